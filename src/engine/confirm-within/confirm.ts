import { invalidInput } from '../../errors.js';
import { currentUser } from '../../host/identity.js';
import { advice, runbookCommand } from '../../suggestion.js';
import type { RunStore } from '../../store/run-store.js';
import { withStateLock } from '../recorded-run.js';
import { awaitsElsewhere, neverAwaited, pickTarget, type AwaitingRun } from './awaiting.js';
import { isExpired, type Guard } from './confirmation.js';
import { stopGuard } from './guard.js';
import { revertEachWhileLocked, type RevertOptions, type RevertOutcome } from './revert-due.js';

export interface ConfirmOptions extends RevertOptions {
  /** A run id or unique prefix: its runbook's runs awaiting here are kept with it. */
  runId?: string | undefined;
  /** Every run of this runbook awaiting here. With neither: every run awaiting here. */
  runbook?: string | undefined;
}

/** A run whose change `confirm` kept. */
export interface ConfirmedRun {
  runId: string;
  runbook: string;
  deadline: string;
  /** Its changed steps in effect, which stay (0: it changed nothing, it was kept with the others). */
  changesInEffect: number;
  /** What was to revert it (undefined if none was armed)… */
  guard: Guard | undefined;
  /** …was still waiting, and was stopped. */
  guardStopped: boolean;
}

export type ConfirmResult =
  /** Confirmed now: the changes stay, and each run kept is named. */
  | { kind: 'confirmed'; runs: ConfirmedRun[] }
  /** No run asked for, and none awaits here: nothing to do (exit 0, as with a run confirmed before). */
  | { kind: 'nothing'; message: string }
  /** Confirmed before: nothing to do (confirming twice is a no-op). */
  | { kind: 'already-confirmed'; runId: string; at: string }
  /** Too late: the run was reverted (now, or before), or rolled back by hand. */
  | { kind: 'reverted'; runId: string; deadline: string; at: string | undefined; revert: RevertOutcome | undefined }
  | { kind: 'rolled-back'; runId: string; at: string };

/**
 * `runbook confirm [run-id]` (issues 15 and 24): keeps the change of every run it picks (by
 * runbook, never by recency: awaiting.ts), recording in each run's journal who confirmed and
 * with which runs, removing its marker and stopping its guard. Under the state dir's lock, so
 * that it and a guard's revert can never both happen: whichever takes the lock first decides,
 * and the other finds the run settled. A deadline that has passed cannot be beaten: those
 * runs are reverted then and there, and confirm says so (exit 1).
 */
export async function confirmRun(options: ConfirmOptions): Promise<ConfirmResult> {
  const { store } = options;
  return withStateLock(store, 'confirm', options.onNote, async () => {
    const target = pickTarget(store, options);
    if (target.kind === 'nothing') return target;
    if (target.kind === 'settled') {
      const { index, confirmation } = target;
      const runId = index.id;
      switch (confirmation.state) {
        case 'none':
          throw neverAwaited(runId);
        case 'confirmed':
          return { kind: 'already-confirmed', runId, at: confirmation.at };
        case 'reverted':
          return { kind: 'reverted', runId, deadline: confirmation.deadline, at: confirmation.at, revert: undefined };
        case 'rolled-back':
          return { kind: 'rolled-back', runId, at: confirmation.at };
        case 'awaiting':
          throw awaitsElsewhere(runId);
      }
    }
    const now = options.now?.() ?? Date.now();
    const due = target.runs.filter((r) => isExpired(r.confirmation.deadline, now));
    if (due.length > 0) return revertTooLate(options, due);
    const halfUndone = target.runs.find((r) => r.confirmation.rollbackStarted);
    if (halfUndone !== undefined) {
      throw invalidInput(
        `run ${halfUndone.index.id} was being rolled back; confirming it would keep a change that is half undone; nothing was changed`,
        advice`finish the rollback with: ${runbookCommand('rollback', halfUndone.index.id)}`,
      );
    }
    const together = target.runs.map((r) => r.index.id);
    const runs: ConfirmedRun[] = [];
    for (const run of target.runs) runs.push(await keep(store, run, together));
    return { kind: 'confirmed', runs };
  });
}

/** Journals the confirmation of one run, removes its marker, stops its guard. */
async function keep(store: RunStore, run: AwaitingRun, together: readonly string[]): Promise<ConfirmedRun> {
  const { index, confirmation } = run;
  const journal = store.reopenRun(index.id, store.readIntactJournal(index));
  try {
    journal.append({
      type: 'confirmed',
      user: currentUser(),
      pid: process.pid,
      deadline: confirmation.deadline,
      together: together.length > 1 ? together.filter((id) => id !== index.id) : undefined,
    });
  } finally {
    journal.close();
  }
  store.clearPendingConfirmation(index.id);
  return {
    runId: index.id,
    runbook: index.runbook,
    deadline: confirmation.deadline,
    changesInEffect: run.changesInEffect,
    guard: confirmation.guard,
    guardStopped: await stopGuard(confirmation.guard),
  };
}

/**
 * Runs picked past their deadline: reverted now, newest first (only now does confirm change
 * the host: the host's lock is taken for the revert alone, so that a confirm in time is never
 * refused because another state dir's run holds it). Reports the newest.
 */
async function revertTooLate(options: ConfirmOptions, due: readonly AwaitingRun[]): Promise<ConfirmResult> {
  const newestFirst = [...due].reverse();
  const first = newestFirst[0] as AwaitingRun;
  const hostLock = await options.executor.lockHost?.(`automatic revert of run ${first.index.id}`, options.store.dir);
  try {
    const outcomes = await revertEachWhileLocked({ ...options, runIds: newestFirst.map((r) => r.index.id) });
    return {
      kind: 'reverted',
      runId: first.index.id,
      deadline: first.confirmation.deadline,
      at: undefined,
      revert:
        outcomes.find(
          (o) => o.kind === 'reverted' && o.result.kind === 'rollback' && o.result.status !== 'rolled-back',
        ) ?? outcomes[0],
    };
  } finally {
    hostLock?.release();
  }
}
