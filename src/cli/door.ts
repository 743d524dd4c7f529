import { RunbookError } from '../errors.js';
import type { RunStore, StoreAccess } from '../store/run-store.js';
import type { CliContext } from './context.js';
import { settleExpiredRuns } from './revert-expired-first.js';
import { ownStateDir, resolveStateDir } from './state-dir.js';

/**
 * The one door to the state dir, for every entry point of the CLI (issue 22). main's hook calls
 * `openDoor` before any command's action (hidden ones included: the watchdog is
 * `runbook --state-dir DIR __watchdog RUN-ID`), and `--in` calls `openStateDir` before it
 * enters a sandbox. In this order, and nothing before it:
 *
 * 1. the state dir is opened through openRunStore, which refuses one that may not be trusted
 *    (exit 2, nothing read, nothing run);
 * 2. only then is a run past its `--confirm-within` deadline dealt with: reverted by a command
 *    that changes the host, reported by one that only reads (revert-expired-first.ts).
 *
 * The command then reaches the state dir only through `ctx.store`.
 */

/** What a command does with the state dir: nothing, read it, or also write it. */
export type StateDirUse = StoreAccess | 'none';

/**
 * Every command, by its full name ("sandbox list"), and what it does with the state dir. A
 * command missing here is refused (an internal error): a new command must say, and the entry
 * point test (test/integration/one-door.test.ts) runs each one against an untrusted state dir.
 * `list`, `show`, `graph` and `completion` never read it: they neither revert nor report runs.
 */
export const stateDirUse: Readonly<Record<string, StateDirUse | ((args: readonly string[]) => StateDirUse)>> = {
  list: 'none',
  show: 'none',
  graph: 'none',
  completion: 'none',
  // Completing run ids and sandbox names reads the state dir; runbooks, steps and parameters do not.
  __complete: (args) => (args[0] === 'runs' || args[0] === 'sandboxes' ? 'read' : 'none'),
  runs: 'read',
  journal: 'read',
  // Reads the journals to say who made what; changes nothing, locks nothing (issue 29).
  topology: 'read',
  // Appends its record to audit.ndjson, and may cache the plan; changes nothing on the host.
  check: 'write',
  run: 'write',
  resume: 'write',
  rollback: 'write',
  confirm: 'write',
  __watchdog: 'write',
  'sandbox create': 'write',
  'sandbox shell': 'write',
  'sandbox list': 'read',
  'sandbox destroy': 'write',
};

/** Before a command's action: opens the state dir as the command declares, then settles expired runs. */
export async function openDoor(ctx: CliContext, command: string, args: readonly string[]): Promise<void> {
  const declared = stateDirUse[command];
  if (declared === undefined)
    throw new RunbookError(
      'internal',
      `command "${command}" does not say what it does with the state dir (add it to stateDirUse in src/cli/door.ts)`,
    );
  const use = typeof declared === 'function' ? declared(args) : declared;
  if (use === 'none') return;
  // Once per process: opened again only if it was opened for reading and now must be written.
  const opened = ctx.openedStore;
  const store =
    opened !== undefined && (opened.access === 'write' || use === 'read')
      ? opened
      : await openStateDir(ctx.stateDirOption, use);
  ctx.enter(store);
  await settleExpiredRuns(ctx, store, command);
}

/**
 * Opens the state dir `--state-dir` (or its default) names: the door, for a caller without a
 * command. The store's modules are loaded here, so that `list` or `--version` never pay for them.
 */
export async function openStateDir(option: string | undefined, access: StoreAccess): Promise<RunStore> {
  const { openRunStore } = await import('../store/open-run-store.js');
  return openRunStore(resolveStateDir(option), access, { ownStateDir: ownStateDir() });
}
