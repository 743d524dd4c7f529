import { RunbookError } from '../../errors.js';
import { spawnDetached } from '../../exec/detached.js';
import { isTransientTimerActive, startTransientTimer, stopTransientTimer } from '../../exec/transient-timer.js';
import { isSameProcess, readProcessStat } from '../../host/process-start.js';
import type { RunJournal, RunStore } from '../../store/run-store.js';
import type { Guard } from './confirmation.js';

/**
 * What reverts a provisional run at its deadline if nobody confirms it (issues 15 and 24):
 *
 * - a systemd transient timer, where systemd is init and can act on this host: systemd keeps
 *   the deadline and starts the revert as root, so no process of ours has to survive for it;
 * - elsewhere, a detached watchdog process (own session, no terminal, SIGHUP ignored:
 *   watchdog.ts), which a `kill -9` can end — then `runs` and the next command say so, and the
 *   next command that changes the host after the deadline reverts the run first (revert-due.ts).
 *
 * Both run this very program, with a hidden command the CLI names: the engine is handed the
 * command lines (`RevertLaunch`) and never knows them.
 */

/** A command line to start, and the environment it gets. */
export interface Launch {
  argv: readonly string[];
  /**
   * For the watchdog, its whole environment; for the timer's service, the variables set in it
   * (systemd gives it almost none of ours).
   */
  env: Readonly<Record<string, string | undefined>>;
}

/** How this program is started to keep a run's deadline: built by the CLI, which knows its commands. */
export interface RevertLaunch {
  /** `timer` where systemd can revert runs made here (host/init-system.ts), else `watchdog`. */
  prefer: 'timer' | 'watchdog';
  /** A process that sleeps until the run's deadline, then reverts it; reports "armed" on fd 3. */
  watchdog(runId: string): Launch;
  /** What the timer `unit`'s service runs at the deadline: the revert of the runs due here. */
  atDeadline(runId: string, unit: string): Launch;
}

/** Node starts in about 0.1 s; a busy machine may take many times that. */
const readyWithinMs = 15_000;

/**
 * Arms what reverts `runId` at `deadline` and journals it (`timer-armed` or
 * `watchdog-started`), so that `confirm`, `extend` and `runs` find that very guard. A timer that
 * cannot be armed falls back to a watchdog, said through `onNote`; throws if neither can be.
 */
export async function armGuard(
  store: RunStore,
  journal: RunJournal,
  runId: string,
  deadline: string,
  launch: RevertLaunch,
  onNote?: (note: string) => void,
): Promise<Guard> {
  if (launch.prefer === 'timer') {
    const unit = timerUnit(runId);
    const atDeadline = launch.atDeadline(runId, unit);
    try {
      await startTransientTimer({
        unit,
        description: `runbook: revert run ${runId} unless it is confirmed by ${deadline}`,
        inMs: Date.parse(deadline) - Date.now(),
        argv: atDeadline.argv,
        setenv: definedOnly(atDeadline.env),
      });
      journal.append({ type: 'timer-armed', unit, deadline });
      return { kind: 'timer', unit };
    } catch (error) {
      onNote?.(
        `no systemd timer for run ${runId} (${(error as Error).message}): a watchdog process keeps its deadline`,
      );
    }
  }
  const watchdog = await startWatchdog(store, runId, launch.watchdog(runId));
  journal.append({ type: 'watchdog-started', pid: watchdog.pid, startTime: watchdog.startTime });
  return watchdog;
}

/** A unit name of its own for each arming (re-arming must not meet the unit it replaces). */
function timerUnit(runId: string): string {
  return `runbook-revert-${runId}-${Date.now().toString(36)}`;
}

function definedOnly(env: Launch['env']): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Starts the watchdog and returns once it is running and armed. */
async function startWatchdog(
  store: RunStore,
  runId: string,
  launch: Launch,
): Promise<Extract<Guard, { kind: 'watchdog' }>> {
  let pid: number;
  try {
    ({ pid } = await spawnDetached(launch.argv, {
      env: launch.env,
      log: store.openWatchdogLog(runId),
      readyWithinMs,
    }));
  } catch (error) {
    throw new RunbookError(
      'internal',
      `the watchdog of run ${runId} could not be started: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const stat = readProcessStat(pid);
  if (stat === undefined) throw new RunbookError('internal', `the watchdog of run ${runId} (pid ${pid}) died at once`);
  return { kind: 'watchdog', pid, startTime: stat.startTime };
}

/**
 * Stops a run's guard (after `confirm`, or to re-arm it) if it still waits, and for a watchdog
 * waits for it to be gone. True if it was still there.
 */
export async function stopGuard(guard: Guard | undefined, waitMs = 3_000): Promise<boolean> {
  if (guard === undefined) return false;
  if (guard.kind === 'timer') return stopTransientTimer(guard.unit);
  if (!isSameProcess(guard.pid, guard.startTime)) return false;
  signal(guard.pid, 'SIGTERM');
  const until = Date.now() + waitMs;
  while (isSameProcess(guard.pid, guard.startTime)) {
    if (Date.now() > until) {
      signal(guard.pid, 'SIGKILL');
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone meanwhile
  }
}

/** Whether the guard recorded for a run is still there to revert it (a timer asks systemctl). */
export async function isGuardAlive(guard: Guard | undefined): Promise<boolean> {
  if (guard === undefined) return false;
  if (guard.kind === 'timer') return isTransientTimerActive(guard.unit);
  return isSameProcess(guard.pid, guard.startTime);
}

/** "watchdog pid 1234", "systemd timer runbook-revert-….timer": for messages. */
export function describeGuard(guard: Guard): string {
  return guard.kind === 'timer' ? `systemd timer ${guard.unit}.timer` : `watchdog pid ${guard.pid}`;
}
