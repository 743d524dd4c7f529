import type { JournalLine } from '../journal/entries.js';

/**
 * Where a run made with `--confirm-within` stands, as its journal says (issue 15). Pure: lines
 * in, state out. The journal decides; the marker files and the index only point at it.
 */
export type Confirmation =
  /** Not a provisional run: it was made without --confirm-within, or did not succeed. */
  | { state: 'none' }
  /**
   * Provisional, with changes possibly in place: not confirmed, not (fully) rolled back. After
   * the deadline it must be reverted; `rollbackStarted` says a rollback (manual or automatic)
   * began and did not finish.
   */
  | { state: 'awaiting'; deadline: string; watchdog: Watchdog | undefined; rollbackStarted: boolean }
  | { state: 'confirmed'; deadline: string; at: string; uid: number }
  /** The automatic revert finished. */
  | { state: 'reverted'; deadline: string; at: string }
  /** A rollback someone asked for (`runbook rollback`) finished before the deadline. */
  | { state: 'rolled-back'; deadline: string; at: string };

export interface Watchdog {
  pid: number;
  startTime: string;
}

/** The reason journaled with an automatic revert. */
export function revertReason(deadline: string): string {
  return `automatic revert: not confirmed by ${deadline}`;
}

export function confirmationOf(lines: readonly JournalLine[]): Confirmation {
  let current = { state: 'none' } as Confirmation;
  for (const line of lines) {
    switch (line.type) {
      case 'confirm-pending':
        current = { state: 'awaiting', deadline: line.deadline, watchdog: undefined, rollbackStarted: false };
        break;
      case 'watchdog-started':
        if (current.state === 'awaiting')
          current = { ...current, watchdog: { pid: line.pid, startTime: line.startTime } };
        break;
      case 'confirmed':
        if (current.state === 'awaiting')
          current = { state: 'confirmed', deadline: current.deadline, at: line.time, uid: line.user.uid };
        break;
      case 'rollback-start':
        if (current.state === 'awaiting') current = { ...current, rollbackStarted: true };
        break;
      case 'rollback-end':
        if (current.state === 'awaiting' && line.status === 'rolled-back') {
          current = {
            state: line.reason === undefined ? 'rolled-back' : 'reverted',
            deadline: current.deadline,
            at: line.time,
          };
        }
        break;
      default:
        break;
    }
  }
  return current;
}

/** Whether an awaiting run's deadline has passed at `now` (ms since the epoch). */
export function isExpired(deadline: string, now: number): boolean {
  return Date.parse(deadline) <= now;
}
