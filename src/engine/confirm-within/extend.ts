import { invalidInput, RunbookError } from '../../errors.js';
import { currentUser } from '../../host/identity.js';
import { advice, runbookCommand } from '../../suggestion.js';
import type { RunStore } from '../../store/run-store.js';
import { withStateLock } from '../recorded-run.js';
import { awaitsElsewhere, neverAwaited, pickTarget, type AwaitingRun } from './awaiting.js';
import { isExpired, type Confirmation, type Guard } from './confirmation.js';
import { armGuard, stopGuard, type RevertLaunch } from './guard.js';

/**
 * Moving a deadline (issue 24): `runbook confirm --extend DURATION`, like Junos' `commit
 * confirmed` issued again, and a re-apply that joins runs awaiting with a window that ends later
 * (arm.ts). The move is journaled first, then the run's marker follows, then a new guard is
 * armed for the new deadline, and only then is the old one stopped: a crash in between leaves
 * the run guarded (by the old guard, which finds it not yet due and does nothing) or, at worst,
 * reverted by the next command after the new deadline.
 */

export interface MovedDeadline {
  runId: string;
  runbook: string;
  previous: string;
  deadline: string;
  guard: Guard;
}

/** For a caller holding the state dir's lock: moves one awaiting run's deadline and re-arms its guard. */
export async function moveDeadline(
  store: RunStore,
  run: AwaitingRun,
  deadline: string,
  why: { why: 'extend' } | { why: 'joined'; by: string },
  launch: RevertLaunch,
  onNote?: (note: string) => void,
): Promise<MovedDeadline> {
  const { index, confirmation } = run;
  const journal = store.reopenRun(index.id, store.readIntactJournal(index));
  let guard: Guard;
  try {
    journal.append({ type: 'deadline-moved', deadline, previous: confirmation.deadline, ...why, user: currentUser() });
    store.markPendingConfirmation({ runId: index.id, deadline, host: index.host });
    guard = await armGuard(store, journal, index.id, deadline, launch, onNote);
  } finally {
    journal.close();
  }
  await stopGuard(confirmation.guard);
  return { runId: index.id, runbook: index.runbook, previous: confirmation.deadline, deadline, guard };
}

export interface ExtendOptions {
  store: RunStore;
  /** A run (its runbook's awaiting runs move with it), a runbook, or neither (every awaiting run here). */
  runId?: string | undefined;
  runbook?: string | undefined;
  /** The new deadline is this long from now. */
  withinMs: number;
  launch: RevertLaunch;
  onNote?: ((note: string) => void) | undefined;
  now?: (() => number) | undefined;
}

export type ExtendResult =
  | { kind: 'extended'; runs: MovedDeadline[] }
  /** No run asked for, and none awaits here: nothing to do (exit 0, as `confirm` answers). */
  | { kind: 'nothing'; message: string };

/**
 * `runbook confirm --extend DURATION`: every run it picks (pickTarget: by runbook, never by
 * recency) gets the deadline DURATION from now — later or earlier, as asked — and a guard armed
 * for it. A deadline already passed cannot be moved: the door reverted that run before this
 * command began, or it is refused here (a revert is on its way).
 */
export async function extendDeadline(options: ExtendOptions): Promise<ExtendResult> {
  const { store } = options;
  return withStateLock(store, 'confirm --extend', options.onNote, async () => {
    const target = pickTarget(store, options);
    if (target.kind === 'nothing') return target;
    if (target.kind === 'settled') throw noDeadline(target.index.id, target.confirmation);
    const now = options.now?.() ?? Date.now();
    const due = target.runs.filter((r) => isExpired(r.confirmation.deadline, now));
    if (due.length > 0) {
      throw invalidInput(
        `run(s) ${due.map((r) => r.index.id).join(', ')} passed their deadline ${due[0]?.confirmation.deadline} unconfirmed: too late to move it; nothing was changed`,
        advice`they are reverted now (any ${runbookCommand('run')}, ${runbookCommand('rollback')} or ${runbookCommand('confirm')} here does it first); apply again with --confirm-within if the change is still wanted`,
      );
    }
    const deadline = new Date(now + options.withinMs).toISOString();
    const runs: MovedDeadline[] = [];
    for (const run of target.runs) {
      if (run.confirmation.rollbackStarted) continue; // being undone: no deadline to keep
      runs.push(await moveDeadline(store, run, deadline, { why: 'extend' }, options.launch, options.onNote));
    }
    return { kind: 'extended', runs };
  });
}

/**
 * The refusal of `confirm --extend` for a run that does not await confirmation: there is no
 * deadline to move. Too late (reverted, rolled back) exits 1, as `confirm` of it does; the rest
 * are refusals (exit 2), a confirmed run's included (its change is kept: nothing to extend).
 */
function noDeadline(runId: string, confirmation: Confirmation): RunbookError {
  switch (confirmation.state) {
    case 'none':
      return neverAwaited(runId);
    case 'awaiting':
      return awaitsElsewhere(runId);
    case 'confirmed':
      return invalidInput(
        `run ${runId} was confirmed at ${confirmation.at}: its change is kept, there is no deadline to move; nothing was changed`,
      );
    case 'reverted':
      return new RunbookError(
        'step-failed',
        `run ${runId} was not confirmed by its deadline ${confirmation.deadline}: it was reverted at ${confirmation.at}, there is no deadline to move`,
        {
          hint: advice`if the change is still wanted, run it again: ${runbookCommand('run', '…', '--confirm-within', '…')}`,
        },
      );
    case 'rolled-back':
      return new RunbookError(
        'step-failed',
        `run ${runId} was rolled back (at ${confirmation.at}) before it was confirmed: there is no deadline to move`,
      );
  }
}
