import { RunbookError } from '../../errors.js';
import type { Executor } from '../../exec/types.js';
import { isThisHost } from '../../host/binding.js';
import type { Lock, PendingConfirmation, RunStore } from '../../store/run-store.js';
import type { CommandEvent } from '../journaled-command.js';
import { acquireChangeLocks, openRecordedRun, recordedNothing } from '../recorded-run.js';
import { rollbackWhileLocked, type RollbackResult } from '../rollback.js';
import type { UndoReport } from '../undo-steps.js';
import { confirmationOf, isExpired, revertReason, type Confirmation } from './confirmation.js';
import type { FindOwners } from '../foreign-contents.js';

/**
 * The automatic revert of runs made with `--confirm-within` and not confirmed by their deadline
 * (issue 15). Done by a run's guard at the deadline (a systemd timer's service or the watchdog),
 * and — belt and braces — by the next runbook command in the state dir that changes the host
 * when the guard is gone (killed, or the machine restarted), which also finishes an automatic
 * revert that was cut short. Whoever does it reverts every run due on this host, newest first:
 * a later run may build on an earlier one, and runs that joined share one deadline (issue 24).
 * Always under the state dir's lock, and decided by each run's journal, never by its marker.
 */

export interface RevertOptions {
  store: RunStore;
  executor: Executor;
  signal?: AbortSignal | undefined;
  onUndo?: ((report: UndoReport) => void) | undefined;
  onCommand?: ((event: CommandEvent) => void) | undefined;
  onNote?: ((note: string) => void) | undefined;
  /** The time to judge deadlines by (ms since the epoch); now by default. */
  now?: (() => number) | undefined;
  /** Names whose are the things a refused undo found (rollback.ts). */
  findOwners?: FindOwners | undefined;
}

export type RevertOutcome =
  /** The run awaits confirmation and its deadline has not come. */
  | { kind: 'not-due'; runId: string; deadline: string }
  /** The run no longer awaits confirmation (confirmed, reverted, rolled back): nothing to do. */
  | { kind: 'settled'; runId: string; confirmation: Confirmation }
  /** It was due, and its automatic revert ran (to the end, or not: see the result). */
  | { kind: 'reverted'; runId: string; deadline: string; result: RollbackResult };

/** The runs of this host whose marker says their deadline has passed (no journal read), newest first. */
export function dueHere(store: RunStore, now = Date.now()): PendingConfirmation[] {
  const expired = store.pendingConfirmations().filter((m) => isExpired(m.deadline, now));
  if (expired.length === 0) return []; // the usual case
  return expired.filter((m) => isThisHost(m.host)).sort((a, b) => b.runId.localeCompare(a.runId));
}

/**
 * For a caller holding the lock: reverts run `runId` if its journal shows it unconfirmed past
 * its deadline. Removes its marker once the journal shows it settled.
 */
export async function revertIfDueWhileLocked(options: RevertOptions & { runId: string }): Promise<RevertOutcome> {
  const { store, runId } = options;
  const index = store.readRun(runId);
  if (index === undefined || recordedNothing(store, index)) {
    store.clearPendingConfirmation(runId);
    return { kind: 'settled', runId, confirmation: { state: 'none' } };
  }
  const run = openRecordedRun(store, index); // an intact journal, and this host's
  const confirmation = confirmationOf(run.journal.lines);
  if (confirmation.state !== 'awaiting') {
    store.clearPendingConfirmation(runId);
    return { kind: 'settled', runId, confirmation };
  }
  const now = options.now?.() ?? Date.now();
  if (!isExpired(confirmation.deadline, now)) return { kind: 'not-due', runId, deadline: confirmation.deadline };
  const result = await rollbackWhileLocked({
    ...options,
    runId,
    opened: run,
    reason: revertReason(confirmation.deadline),
    // Never refused because a later run built on it: undoing an unconfirmed change at its
    // deadline is the promise --confirm-within makes, and what restores a cut-off session.
    force: true,
  });
  if (result.kind === 'nothing' || result.status === 'rolled-back') store.clearPendingConfirmation(runId);
  return { kind: 'reverted', runId, deadline: confirmation.deadline, result };
}

/**
 * For a caller holding the locks: reverts each of `runIds` that is due, in the order given
 * (newest first), stopping at a revert that failed or was interrupted (the host is half-way).
 */
export async function revertEachWhileLocked(
  options: RevertOptions & { runIds: readonly string[] },
): Promise<RevertOutcome[]> {
  const outcomes: RevertOutcome[] = [];
  for (const runId of options.runIds) {
    const outcome = await revertIfDueWhileLocked({ ...options, runId });
    outcomes.push(outcome);
    if (outcome.kind === 'reverted' && outcome.result.kind === 'rollback' && outcome.result.status !== 'rolled-back')
      break;
  }
  return outcomes;
}

/**
 * Belt and braces: reverts the given runs (this host's, past their deadline by their markers)
 * if their journals agree, newest first, holding the locks (waiting up to `lockWaitMs` for
 * them: a guard may be reverting right now). Returns what was done for each.
 */
export async function revertDueRuns(
  options: RevertOptions & { runIds: readonly string[]; lockWaitMs: number },
): Promise<RevertOutcome[]> {
  if (options.runIds.length === 0) return [];
  const runIds = [...options.runIds].sort((a, b) => b.localeCompare(a));
  return withStateLockWaiting(options.store, 'automatic revert', options, () =>
    revertEachWhileLocked({ ...options, runIds }),
  );
}

/**
 * Runs `work` holding the state dir's lock and the host's (a revert runs undo commands),
 * waiting for them while another command holds either: for at most `lockWaitMs` (finite: no
 * wait is forever, issue 22), or until `signal` aborts; then the usual exit 3 error, which
 * names the holder. What it waits for is said through `onNote`, when the wait starts and
 * whenever the holder changes.
 */
export async function withStateLockWaiting<T>(
  store: RunStore,
  command: string,
  options: {
    executor: Executor;
    lockWaitMs: number;
    signal?: AbortSignal | undefined;
    onNote?: ((note: string) => void) | undefined;
  },
  work: () => Promise<T>,
): Promise<T> {
  if (!Number.isFinite(options.lockWaitMs)) throw new Error('a lock wait must be bounded');
  const until = Date.now() + options.lockWaitMs;
  let lock: Lock;
  let waitingFor: string | undefined;
  for (;;) {
    try {
      lock = await acquireChangeLocks(store, command, options.executor);
      break;
    } catch (error) {
      const locked = error instanceof RunbookError && error.code === 'locked';
      if (!locked || Date.now() >= until || options.signal?.aborted) throw error;
      if (error.message !== waitingFor) {
        waitingFor = error.message;
        const left = Math.ceil((until - Date.now()) / 1000);
        options.onNote?.(`waiting (${left} s at most) for the lock ${command} needs: ${error.message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    if (lock.takeoverNote !== undefined) options.onNote?.(lock.takeoverNote);
    return await work();
  } finally {
    lock.release();
  }
}
