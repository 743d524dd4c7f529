import { closeSync, writeSync } from 'node:fs';
import { setPriority } from 'node:os';
import { revertAtDeadline, watchOverDeadline } from '../engine/confirm-within/watchdog.js';
import { createHostExecutor } from '../host/host-executor.js';
import { openRunStore } from '../store/open-run-store.js';
import type { RunStore } from '../store/run-store.js';
import { terminalSafe } from '../text/plain-text.js';
import { revertLaunch } from './revert-launch.js';
import { ownerFinder } from './run-owners.js';

/**
 * The processes that keep a `--confirm-within` deadline (src/engine/confirm-within/guard.ts),
 * this program started again with a hidden command (src/cli/revert-launch.ts), the state dir
 * opened through the door first like every command's (issue 22):
 *
 * - `runbook --state-dir DIR __watchdog RUN-ID`: detached, it sleeps until the deadline, then
 *   reverts (engine/confirm-within/watchdog.ts);
 * - `runbook --state-dir DIR __revert-due RUN-ID UNIT`: what a systemd timer's service runs at
 *   the deadline.
 *
 * Neither has a terminal: what they say goes to stderr — the run's watchdog log beside its
 * journal, or the service's journal in journald — and what they do to a run is journaled in
 * that run's journal. This file is only the process around the engine: signals, the readiness
 * pipe, priority.
 */

/** fd 3: the pipe on which the process that started the watchdog waits for "armed". */
const readyFd = 3;

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} pid ${process.pid}: ${terminalSafe(line)}\n`);
}

/**
 * At the deadline the revert is what matters most on this machine: the host may be cut off
 * until it is done. A higher priority (nice -10, inherited by the commands it runs) keeps a
 * busy machine from delaying its wake-up and stretching out its commands. Needs root; without
 * it, the revert runs at the usual priority.
 */
function raisePriority(): void {
  try {
    setPriority(-10);
  } catch {
    // not permitted: go on at the usual priority
  }
}

/** SIGTERM (`runbook confirm`, a shutdown) and SIGINT abort the signal; SIGHUP is ignored. */
function stopSignal(): AbortSignal {
  // The session that started the run may hang up (a dropped ssh connection): outliving it is
  // the watchdog's whole point.
  process.on('SIGHUP', () => log('SIGHUP ignored'));
  const controller = new AbortController();
  const stop = (name: NodeJS.Signals) => {
    log(`${name}: stopping`);
    controller.abort();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return controller.signal;
}

/** The state dir, checked again through the door: hours may have passed. */
function reopener(store: RunStore): () => RunStore {
  return () => openRunStore(store.dir, 'write', { trust: store.trust });
}

export async function watchdogCommand(store: RunStore, runId: string): Promise<number> {
  const signal = stopSignal();
  return watchOverDeadline({
    store,
    runId,
    executor: createHostExecutor(),
    findOwners: ownerFinder,
    signal,
    log,
    reopen: reopener(store),
    ready: () => {
      writeSync(readyFd, 'armed\n');
      closeSync(readyFd);
      raisePriority(); // asleep, it costs nobody anything; awake at the deadline, it is served first
    },
  });
}

export async function revertDueCommand(store: RunStore, runId: string, unit: string): Promise<number> {
  raisePriority();
  // Also in the run's watchdog log, where `runs` and the docs point: journald has it too.
  const fd = store.openWatchdogLog(runId).fd;
  const both = (line: string) => {
    log(line);
    try {
      writeSync(fd, `${new Date().toISOString()} ${unit}: ${terminalSafe(line)}\n`);
    } catch {
      // the log is for people; the journal has what matters
    }
  };
  try {
    return await revertAtDeadline({
      store,
      runId,
      unit,
      executor: createHostExecutor(),
      findOwners: ownerFinder,
      signal: stopSignal(),
      log: both,
      reopen: reopener(store),
      // Started by a systemd timer: systemd is here, so a timer again if one must be re-armed.
      launch: { ...revertLaunch(store), prefer: 'timer' },
    });
  } finally {
    closeSync(fd);
  }
}
