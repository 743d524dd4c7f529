import { invalidInput } from '../errors.js';
import { isThisHost } from '../host/binding.js';
import { currentUser } from '../host/identity.js';
import type { RunIndex, RunStore } from '../store/run-store.js';
import { confirmationOf, isExpired, type Watchdog } from './confirmation.js';
import { openRecordedRun, withStateLock } from './recorded-run.js';
import { revertIfDueWhileLocked, type RevertOptions, type RevertOutcome } from './revert-unconfirmed.js';
import { stopWatchdog } from './watchdog.js';
import { advice, runbookCommand } from '../suggestion.js';

export interface ConfirmOptions extends RevertOptions {
  /** A run id or unique prefix; undefined for this host's run awaiting confirmation. */
  runId: string | undefined;
}

export type ConfirmResult =
  /** Confirmed now: the change stays; its watchdog was stopped (if it still ran). */
  | { kind: 'confirmed'; runId: string; deadline: string; watchdogStopped: boolean }
  /** Confirmed before: nothing to do (confirming twice is a no-op). */
  | { kind: 'already-confirmed'; runId: string; at: string }
  /** Too late: the run was reverted (now, or before), or rolled back by hand. */
  | { kind: 'reverted'; runId: string; deadline: string; at: string | undefined; revert: RevertOutcome | undefined }
  | { kind: 'rolled-back'; runId: string; at: string };

/**
 * `runbook confirm [run-id]` (issue 15): records in the run's journal that its change stays
 * (who, when), removes its pending marker and stops its watchdog. Under the state dir's lock,
 * so that it and the watchdog's revert can never both happen: whichever takes the lock first
 * decides, and the other finds the run settled. A deadline that has passed cannot be beaten:
 * the run is reverted then and there, and confirm says so (exit 1).
 */
export async function confirmRun(options: ConfirmOptions): Promise<ConfirmResult> {
  const { store } = options;
  return withStateLock(store, 'confirm', options.onNote, async () => {
    const index = options.runId === undefined ? defaultConfirmTarget(store) : store.findRun(options.runId);
    const run = openRecordedRun(store, index); // an intact journal, and this host's run
    const runId = index.id;
    const confirmation = confirmationOf(run.journal.lines);
    switch (confirmation.state) {
      case 'none':
        throw invalidInput(
          `run ${runId} was not left awaiting confirmation (it was made without --confirm-within, or did not succeed); nothing was changed`,
          advice`a run awaits confirmation after: ${runbookCommand('run', 'NAME', '--confirm-within', '5m')}`,
        );
      case 'confirmed':
        return { kind: 'already-confirmed', runId, at: confirmation.at };
      case 'reverted':
        return { kind: 'reverted', runId, deadline: confirmation.deadline, at: confirmation.at, revert: undefined };
      case 'rolled-back':
        return { kind: 'rolled-back', runId, at: confirmation.at };
      case 'awaiting':
        break;
    }
    const now = options.now?.() ?? Date.now();
    if (isExpired(confirmation.deadline, now)) {
      // Only now does confirm change the host: the host's lock is taken for the revert alone, so
      // that a confirm in time is never refused because another state dir's run holds it.
      const hostLock = await options.executor.lockHost?.(`automatic revert of run ${runId}`, store.dir);
      try {
        const revert = await revertIfDueWhileLocked({ ...options, runId });
        return { kind: 'reverted', runId, deadline: confirmation.deadline, at: undefined, revert };
      } finally {
        hostLock?.release();
      }
    }
    if (confirmation.rollbackStarted) {
      throw invalidInput(
        `run ${runId} was being rolled back; confirming it would keep a change that is half undone; nothing was changed`,
        advice`finish the rollback with: ${runbookCommand('rollback', runId)}`,
      );
    }
    const journal = store.reopenRun(runId, run.journal);
    try {
      journal.append({ type: 'confirmed', user: currentUser(), pid: process.pid, deadline: confirmation.deadline });
    } finally {
      journal.close();
    }
    store.clearPendingConfirmation(runId);
    const watchdogStopped = await stopIfRecorded(confirmation.watchdog);
    return { kind: 'confirmed', runId, deadline: confirmation.deadline, watchdogStopped };
  });
}

async function stopIfRecorded(watchdog: Watchdog | undefined): Promise<boolean> {
  return watchdog === undefined ? false : stopWatchdog(watchdog);
}

/**
 * This host's run awaiting confirmation; if none awaits, the latest run of this host that did
 * (so that confirming twice is a no-op, and a late confirm learns the run was reverted).
 * Several awaiting at once: refuse, naming them, rather than guess.
 */
function defaultConfirmTarget(store: RunStore): RunIndex {
  const provisional = store.listRuns().filter((r) => r.confirmBy !== undefined && isThisHost(r.host));
  const awaiting = provisional.filter((r) => r.status === 'awaiting-confirmation');
  if (awaiting.length > 1) {
    throw invalidInput(
      `${awaiting.length} runs await confirmation here: ${awaiting.map((r) => `${r.id} (by ${r.confirmBy})`).join(', ')}; nothing was changed`,
      advice`confirm each by its id: ${runbookCommand('confirm', 'RUN-ID')}`,
    );
  }
  const target = awaiting[0] ?? provisional.at(-1);
  if (target === undefined) {
    throw invalidInput(
      `no run awaits confirmation in ${store.dir} on this host; nothing was changed`,
      advice`a run awaits confirmation after: ${runbookCommand('run', 'NAME', '--confirm-within', '5m')} (see them with: ${runbookCommand('runs')})`,
    );
  }
  return target;
}
