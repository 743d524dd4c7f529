import { defineCommand } from '../command-spec.js';

/**
 * `runbook --state-dir DIR __watchdog RUN-ID`: the watchdog of `run --confirm-within`, started
 * detached by the run (src/engine/watchdog.ts), through the door like any command. Hidden: not
 * for people.
 */
export const command = defineCommand({
  name: '__watchdog',
  hidden: true,
  description: 'the watchdog of a run made with --confirm-within',
  arguments: [{ name: '<run-id>', description: 'the run to revert at its deadline unless confirmed' }],
  stateDir: 'write',
  action: async (ctx, [runId]) => (await import('../watchdog-main.js')).watchdogMain(ctx.store, runId),
});
