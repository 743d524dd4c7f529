import { RunbookError } from '../errors.js';
import { spawnDetached } from '../exec/detached.js';
import { isSameProcess, readProcessStat } from '../host/process-start.js';
import type { RunStore } from '../store/run-store.js';
import { confirmationOf, type Watchdog } from './confirmation.js';
import { envVar, processEnv, readEnv } from '../env.js';

/**
 * The watchdog of a run made with `--confirm-within` (issue 15): a detached process that sleeps
 * until the run's deadline, then takes the state dir's lock and, unless the journal shows the
 * run confirmed, rolls it back as an automatic revert. It survives the session that started it
 * (own session, SIGHUP ignored, no terminal: see exec/detached.ts and cli/watchdog-main.ts).
 * If it dies anyway, the next runbook command in the state dir does its job (revert-unconfirmed.ts).
 */

/**
 * Fault injection for tests (see fault/kill-points.ts): RUNBOOK_FAULT_KILL of the watchdog only,
 * so that a test can kill the watchdog in the middle of its revert, and not the run before it.
 */
export const watchdogFaultKillVar = envVar.watchdogFaultKill;

/** Node starts in about 0.1 s; a busy machine may take many times that. */
const readyWithinMs = 15_000;

/**
 * Starts the watchdog of `runId` and returns once it is running and armed. It is this very
 * program run as `runbook --state-dir DIR __watchdog RUN-ID`, so it opens the state dir through
 * the same door as every command (src/cli/door.ts): trusted before it reads anything.
 */
export async function startWatchdog(store: RunStore, runId: string): Promise<Watchdog> {
  const env: NodeJS.ProcessEnv = { ...processEnv() };
  delete env[envVar.faultKill];
  const fault = readEnv('watchdogFaultKill');
  delete env[watchdogFaultKillVar];
  if (fault !== undefined) env.RUNBOOK_FAULT_KILL = fault;
  // This very program (bin/runbook.js, or the one-file bundle), with its hidden command.
  const script = process.argv[1];
  if (script === undefined) throw new RunbookError('internal', 'cannot find the runbook script to start the watchdog');
  let pid: number;
  try {
    ({ pid } = await spawnDetached([process.execPath, script, '--state-dir', store.dir, '__watchdog', runId], {
      env,
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
  return { pid, startTime: stat.startTime };
}

/**
 * Stops a run's watchdog (after `runbook confirm`), if that very process still runs, and waits
 * for it to be gone. True if it was running.
 */
export async function stopWatchdog(watchdog: Watchdog, waitMs = 3_000): Promise<boolean> {
  if (!isSameProcess(watchdog.pid, watchdog.startTime)) return false;
  signal(watchdog, 'SIGTERM');
  const until = Date.now() + waitMs;
  while (isSameProcess(watchdog.pid, watchdog.startTime)) {
    if (Date.now() > until) {
      signal(watchdog, 'SIGKILL');
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

function signal(watchdog: Watchdog, name: NodeJS.Signals): void {
  try {
    process.kill(watchdog.pid, name);
  } catch {
    // gone meanwhile
  }
}

/** Whether the watchdog recorded for a run still runs. */
export function isWatchdogRunning(watchdog: Watchdog | undefined): boolean {
  return watchdog !== undefined && isSameProcess(watchdog.pid, watchdog.startTime);
}

/** The deadline a run's journal gives, for its watchdog; refuses if the run does not await confirmation. */
export function awaitedDeadline(store: RunStore, runId: string): string {
  const confirmation = confirmationOf(store.readJournal(runId).lines);
  if (confirmation.state !== 'awaiting') {
    throw new RunbookError('invalid-input', `run ${runId} does not await confirmation (${confirmation.state})`);
  }
  return confirmation.deadline;
}

/**
 * Sleeps until `deadline` (ISO) or until `signal` aborts; true if the deadline came. Wakes at
 * least once a minute to look at the clock again, rather than trusting one long timer.
 */
export async function sleepUntil(deadline: string, signal: AbortSignal): Promise<boolean> {
  const at = Date.parse(deadline);
  while (!signal.aborted) {
    const remaining = at - Date.now();
    if (remaining <= 0) return true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(remaining, 60_000));
      signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }
  return false;
}
