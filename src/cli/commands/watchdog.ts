import { defineCommand } from '../command-spec.js';

/**
 * What keeps a `run --confirm-within` deadline (src/engine/confirm-within/guard.ts), started by
 * the run as this very program (src/cli/revert-launch.ts), through the door like any command.
 * Hidden: not for people. The process around the engine is in src/cli/guard-process.ts.
 */

/** `runbook --state-dir DIR __watchdog RUN-ID`: detached, sleeps until the deadline, then reverts. */
export const command = defineCommand({
  name: '__watchdog',
  hidden: true,
  description: 'the watchdog of a run made with --confirm-within',
  arguments: [{ name: '<run-id>', description: 'the run to revert at its deadline unless confirmed' }],
  stateDir: 'write',
  action: async (ctx, [runId]) => (await import('../guard-process.js')).watchdogCommand(ctx.store, runId),
});

/** `runbook --state-dir DIR __revert-due RUN-ID UNIT`: what a systemd timer's service runs at the deadline. */
export const revertDueCommand = defineCommand({
  name: '__revert-due',
  hidden: true,
  description: 'the revert a systemd timer starts at the deadline of a run made with --confirm-within',
  arguments: [
    { name: '<run-id>', description: 'the run whose deadline came' },
    { name: '<unit>', description: 'the transient unit that started this (to tell it from the run’s other guards)' },
  ],
  stateDir: 'write',
  action: async (ctx, [runId, unit]) => (await import('../guard-process.js')).revertDueCommand(ctx.store, runId, unit),
});
