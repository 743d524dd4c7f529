import type { RunStore, StoreAccess } from '../store/run-store.js';
import type { CommandSpec } from './command-spec.js';
import type { CliContext } from './context.js';
import { settleExpiredRuns } from './revert-expired-first.js';
import { ownStateDir, resolveStateDir } from './state-dir.js';

/**
 * The one door to the state dir, for every entry point of the CLI (issue 22). main calls
 * `openDoor` before any command's action (hidden ones included: the watchdog is
 * `runbook --state-dir DIR __watchdog RUN-ID`), and `--in` calls `openStateDir` before it
 * enters a sandbox. In this order, and nothing before it:
 *
 * 1. the state dir is opened through openRunStore, which refuses one that may not be trusted
 *    (exit 2, nothing read, nothing run);
 * 2. only then is a run past its `--confirm-within` deadline dealt with: reverted by a command
 *    that changes the host, reported by one that only reads (revert-expired-first.ts).
 *
 * The command then reaches the state dir only through `ctx.store`. What each command does with
 * the state dir (`stateDir`) and with a due run (`dueRuns`) is in its declaration
 * (src/cli/commands/<verb>.ts): the compiler refuses a command that does not say.
 */

/** Before a command's action: opens the state dir as the command declares, then settles expired runs. */
export async function openDoor(
  ctx: CliContext,
  spec: CommandSpec,
  command: string,
  args: readonly string[],
  options: Readonly<Record<string, unknown>> = {},
): Promise<void> {
  const use = typeof spec.stateDir === 'function' ? spec.stateDir(args, options) : spec.stateDir;
  if (use === 'none') return;
  // Once per process: opened again only if it was opened for reading and now must be written.
  const opened = ctx.openedStore;
  const store =
    opened !== undefined && (opened.access === 'write' || use === 'read')
      ? opened
      : await openStateDir(ctx.stateDirOption, use);
  ctx.enter(store);
  // A command that only reads this time (`prune --dry-run`) never reverts: it reports.
  const dueRuns = use === 'read' && spec.dueRuns === 'revert' ? 'report' : spec.dueRuns;
  if (dueRuns !== undefined) await settleExpiredRuns(ctx, store, command, dueRuns);
}

/**
 * Opens the state dir `--state-dir` (or its default) names: the door, for a caller without a
 * command. The store's modules are loaded here, so that `list` or `--version` never pay for them.
 */
export async function openStateDir(option: string | undefined, access: StoreAccess): Promise<RunStore> {
  const { openRunStore } = await import('../store/open-run-store.js');
  return openRunStore(resolveStateDir(option), access, { ownStateDir: ownStateDir() });
}
