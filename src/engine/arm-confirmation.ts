import type { HostIdentity } from '../journal/entries.js';
import type { RunJournal } from '../store/run-store.js';
import type { Watchdog } from './confirmation.js';
import { rollbackWhileLocked, type RollbackOptions, type RollbackResult } from './rollback.js';
import { startWatchdog } from './watchdog.js';

/** How a successful `run --confirm-within` was left (issue 15). */
export type Provisional =
  /** Awaiting confirmation until `deadline`; `watchdog` reverts it then unless confirmed. */
  | { kind: 'armed'; deadline: string; watchdog: Watchdog }
  /** No watchdog could be started, so the run was reverted at once rather than left unguarded. */
  | { kind: 'not-armed'; error: string; rollback: RollbackResult };

export interface LeaveProvisionalOptions extends Omit<RollbackOptions, 'runId' | 'reason'> {
  runId: string;
  host: HostIdentity;
  withinMs: number;
}

/**
 * Makes a run that just succeeded provisional, still holding the lock: the marker first (so
 * that the next command can find the run even if this process dies now), then the deadline in
 * the journal, then the watchdog, whose pid and start time are journaled so that `confirm` can
 * stop that very process. `journal` is the run's, still open.
 */
export async function leaveProvisional(journal: RunJournal, options: LeaveProvisionalOptions): Promise<Provisional> {
  const { store, runId } = options;
  const deadline = new Date(Date.now() + options.withinMs).toISOString();
  store.markPendingConfirmation({ runId, deadline, host: options.host });
  journal.append({ type: 'confirm-pending', deadline, withinMs: options.withinMs });
  let watchdog: Watchdog;
  try {
    watchdog = await startWatchdog(store, runId);
  } catch (error) {
    // Without a watchdog nothing would revert the change if this session is cut off now, and
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
  journal.append({ type: 'watchdog-started', pid: watchdog.pid, startTime: watchdog.startTime });
  return { kind: 'armed', deadline, watchdog };
}
