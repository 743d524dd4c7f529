import type { JournalLine } from '../../journal/entries.js';

/**
 * `run --confirm-within` (issues 15 and 24), all of it in this folder:
 *
 * - confirmation.ts  where a provisional run stands, from its journal (pure)
 * - arm.ts           leave a run that just succeeded provisional, joining the runs it re-applies
 * - guard.ts         what reverts a run at its deadline: a systemd timer, or a detached watchdog
 * - watchdog.ts      the watchdog's life: sleep until the deadline, then revert
 * - revert-due.ts    the automatic revert of runs past their deadline, and the runs due here
 * - confirm.ts       keep the change: every awaiting run of the runbook, said by name
 * - extend.ts        move a deadline, re-arming the guards
 *
 * The CLI only parses and prints; what this program runs to keep a deadline (its hidden
 * commands) is handed in by the CLI as a `RevertLaunch` (guard.ts).
 */

/** What reverts a provisional run at its deadline, as its journal records it. */
export type Guard =
  /** A detached process of ours; pid and start time identify it (a pid may be reused). */
  | { kind: 'watchdog'; pid: number; startTime: string }
  /** A systemd transient timer (`<unit>.timer`, starting `<unit>.service` at the deadline). */
  | { kind: 'timer'; unit: string };

/**
 * Where a run made with `--confirm-within` stands, as its journal says. The journal decides;
 * the marker files and the index only point at it.
 */
export type Confirmation =
  /** Not a provisional run: it was made without --confirm-within, or did not succeed. */
  | { state: 'none' }
  /**
   * Provisional, with changes possibly in place: not confirmed, not (fully) rolled back. After
   * the deadline it must be reverted; `rollbackStarted` says a rollback (manual or automatic)
   * began and did not finish. `guard` is the latest armed; `joined` the runs it joined.
   */
  | {
      state: 'awaiting';
      deadline: string;
      guard: Guard | undefined;
      rollbackStarted: boolean;
      joined: readonly string[];
    }
  | { state: 'confirmed'; deadline: string; at: string; uid: number }
  /** The automatic revert finished. */
  | { state: 'reverted'; deadline: string; at: string }
  /** A rollback someone asked for (`runbook rollback`) finished before the deadline. */
  | { state: 'rolled-back'; deadline: string; at: string };

/** The reason journaled with an automatic revert. */
export function revertReason(deadline: string): string {
  return `automatic revert: not confirmed by ${deadline}`;
}

export function confirmationOf(lines: readonly JournalLine[]): Confirmation {
  let current = { state: 'none' } as Confirmation;
  for (const line of lines) {
    switch (line.type) {
      case 'confirm-pending':
        current = {
          state: 'awaiting',
          deadline: line.deadline,
          guard: undefined,
          rollbackStarted: false,
          joined: line.joined ?? [],
        };
        break;
      case 'watchdog-started':
        if (current.state === 'awaiting')
          current = { ...current, guard: { kind: 'watchdog', pid: line.pid, startTime: line.startTime } };
        break;
      case 'timer-armed':
        if (current.state === 'awaiting') current = { ...current, guard: { kind: 'timer', unit: line.unit } };
        break;
      case 'deadline-moved':
        if (current.state === 'awaiting') current = { ...current, deadline: line.deadline };
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
