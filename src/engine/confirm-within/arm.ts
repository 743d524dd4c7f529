import type { HostIdentity } from '../../journal/entries.js';
import type { RunJournal } from '../../store/run-store.js';
import { rollbackWhileLocked, type RollbackOptions, type RollbackResult } from '../rollback.js';
import { awaitingHere } from './awaiting.js';
import { isExpired, type Guard } from './confirmation.js';
import { moveDeadline, type MovedDeadline } from './extend.js';
import { armGuard, type RevertLaunch } from './guard.js';

/** How a successful `run --confirm-within` was left (issues 15 and 24). */
export type Provisional =
  /**
   * Awaiting confirmation until `deadline`; `guard` reverts it then unless confirmed. `joined`:
   * the runs of the same runbook that awaited here before it, which now share its deadline
   * (each listed with the deadline it had; `moved` when it was moved to this one).
   */
  | { kind: 'armed'; deadline: string; guard: Guard; joined: JoinedRun[] }
  /** No guard could be armed, so the run was reverted at once rather than left unguarded. */
  | { kind: 'not-armed'; error: string; rollback: RollbackResult };

export interface JoinedRun {
  runId: string;
  /** Its changed steps still in effect: what confirming keeps. */
  changesInEffect: number;
  /** Its deadline before it was joined. */
  previous: string;
  moved: MovedDeadline | undefined;
}

export interface LeaveProvisionalOptions extends Omit<RollbackOptions, 'runId' | 'reason'> {
  runId: string;
  runbook: string;
  host: HostIdentity;
  withinMs: number;
  /** How this program is started to keep the deadline (the CLI's hidden commands). */
  launch: RevertLaunch;
}

/**
 * Makes a run that just succeeded provisional, still holding the locks: the marker first (so
 * that the next command can find the run even if this process dies now), then the deadline in
 * the journal, then the guard (journaled by armGuard), so that `confirm` can stop that very one.
 * `journal` is the run's, still open.
 *
 * A re-apply while runs of the same runbook await confirmation here joins them (issue 24): one
 * pending change, one deadline — the later of theirs and this run's own window; a re-apply
 * never brings a deadline closer. Otherwise confirming the re-apply (which, finding everything
 * in place, changed nothing) would leave the run that made the changes to be reverted.
 */
export async function leaveProvisional(journal: RunJournal, options: LeaveProvisionalOptions): Promise<Provisional> {
  const { store, runId } = options;
  const now = Date.now();
  // Those already due are the guards' to revert (after this run lets go of the locks).
  const joining = awaitingHere(store, options.runbook).filter(
    (r) => r.index.id !== runId && !isExpired(r.confirmation.deadline, now) && !r.confirmation.rollbackStarted,
  );
  const own = now + options.withinMs;
  const latest = Math.max(own, ...joining.map((r) => Date.parse(r.confirmation.deadline)));
  const deadline = new Date(latest).toISOString();
  store.markPendingConfirmation({ runId, deadline, host: options.host });
  journal.append({
    type: 'confirm-pending',
    deadline,
    withinMs: options.withinMs,
    joined: joining.length > 0 ? joining.map((r) => r.index.id) : undefined,
  });
  let guard: Guard;
  try {
    guard = await armGuard(store, journal, runId, deadline, options.launch, options.onNote);
  } catch (error) {
    // Without a guard nothing would revert the change if this session is cut off now, and
    // the user asked for exactly that guarantee: undo it at once instead.
    const message = (error as Error).message;
    journal.close();
    // force: the run has just ended, under the locks it still holds; nothing came after it.
    const rollback = await rollbackWhileLocked({
      ...options,
      runId,
      reason: `automatic revert: ${message}`,
      force: true,
    });
    if (rollback.kind === 'nothing' || rollback.status === 'rolled-back') store.clearPendingConfirmation(runId);
    return { kind: 'not-armed', error: message, rollback };
  }
  const joined: JoinedRun[] = [];
  for (const run of joining) {
    let moved: MovedDeadline | undefined;
    if (run.confirmation.deadline !== deadline) {
      try {
        moved = await moveDeadline(store, run, deadline, { why: 'joined', by: runId }, options.launch, options.onNote);
      } catch (error) {
        // Its move is journaled before its new guard is armed: its old guard, waking at the
        // old deadline, finds it not due and keeps watching (watchdog.ts, revertAtDeadline).
        options.onNote?.(`run ${run.index.id}: no new guard for the deadline ${deadline}: ${(error as Error).message}`);
      }
    }
    joined.push({
      runId: run.index.id,
      changesInEffect: run.changesInEffect,
      previous: run.confirmation.deadline,
      moved,
    });
  }
  return { kind: 'armed', deadline, guard, joined };
}
