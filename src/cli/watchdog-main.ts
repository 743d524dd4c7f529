import { closeSync, writeSync } from 'node:fs';
import { setPriority } from 'node:os';
import { revertIfDueWhileLocked, withStateLockWaiting } from '../engine/revert-unconfirmed.js';
import { awaitedDeadline, sleepUntil } from '../engine/watchdog.js';
import { RunbookError } from '../errors.js';
import { createHostExecutor } from '../host/host-executor.js';
import { openRunStore } from '../store/open-run-store.js';
import type { RunStore } from '../store/run-store.js';
import { terminalSafe } from '../text/plain-text.js';
import { ownerFinder } from './run-owners.js';

/**
 * The watchdog process of `runbook run --confirm-within` (issue 15), started detached by
 * engine/watchdog.ts as `runbook --state-dir <dir> __watchdog <run-id>` (a hidden command, so that
 * the one-file bundle can start it as well as dist/ can, and so that it opens the state dir
 * through the same door as every command: trusted before it reads anything, issue 22). It
 * sleeps until the run's
 * deadline, then reverts the run unless its journal shows it confirmed. Everything it needs is
 * imported before it sleeps, so nothing is loaded at the deadline.
 *
 * It has no terminal and no stdout; what it has to say goes to its stderr, a log file beside
 * the run's journal. What it does to the run is journaled in the run's own journal.
 */

/** fd 3: the pipe on which the process that started us waits for "armed". */
const readyFd = 3;

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} watchdog pid ${process.pid}: ${terminalSafe(line)}\n`);
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

/**
 * How long the watchdog waits, at its deadline, for the locks another command holds: long
 * enough for any run to finish, short enough that a stuck holder cannot keep an unconfirmed
 * change in place for good (the log says what it waited for, and the next command reverts).
 */
export const watchdogLockWaitMs = 15 * 60_000;

/** The watchdog's whole life; returns its exit code (nobody waits for it: for the log). */
export async function watchdogMain(store: RunStore, runId: string): Promise<number> {
  // The session that started the run may hang up (a dropped ssh connection): outliving it is
  // this process's whole point. SIGTERM (runbook confirm, a shutdown) stops it: while it waits,
  // at once; while it reverts, at the next safe point, journaled (the next command finishes it).
  process.on('SIGHUP', () => log('SIGHUP ignored'));
  const controller = new AbortController();
  const stop = (name: NodeJS.Signals) => {
    log(`${name}: stopping`);
    controller.abort();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const deadline = awaitedDeadline(store, runId);
  writeSync(readyFd, 'armed\n');
  closeSync(readyFd);
  log(`run ${runId}: reverting it at ${deadline} unless it is confirmed`);

  // The first command a process spawns costs several times the later ones (code compiled on
  // first use, binaries read from disk); pay that now, with a read-only `ip -V` on each of the
  // executor's two paths (the light one of checks and probes, execa for undo commands), rather
  // than at the deadline, where the revert should take as little as it can. The light path for
  // the revert's checks and guard probes (issue 22) halves their cost.
  const executor = createHostExecutor();
  await executor.run({ argv: ['ip', '-V'], timeoutMs: 5_000, readOnly: true });
  await executor.run({ argv: ['ip', '-V'], timeoutMs: 5_000 });
  raisePriority(); // asleep, it costs nobody anything; awake at the deadline, it is served first

  for (;;) {
    if (!(await sleepUntil(deadline, controller.signal))) return 0;
    // Hours may have passed since the door checked the state dir: check it again before acting
    // on what its journal says (a mode loosened meanwhile would let anyone plant an undo).
    let checked: RunStore;
    try {
      checked = openRunStore(store.dir, 'write', { trust: store.trust });
    } catch (error) {
      log(`not reverting run ${runId}: ${(error as Error).message}`);
      return 2;
    }
    let outcome: Awaited<ReturnType<typeof revertIfDueWhileLocked>>;
    try {
      outcome = await withStateLockWaiting(
        checked,
        `automatic revert of run ${runId}`,
        // A command holding the lock (a long run, say) is waited for, the revert coming after it;
        // but not forever (issue 22): past the bound, a later command reverts the run.
        { executor, lockWaitMs: watchdogLockWaitMs, signal: controller.signal, onNote: log },
        () =>
          revertIfDueWhileLocked({
            store: checked,
            runId,
            executor,
            signal: controller.signal,
            onNote: log,
            findOwners: ownerFinder(checked),
          }),
      );
    } catch (error) {
      if (!(error instanceof RunbookError && error.code === 'locked')) throw error;
      log(
        `gave up after ${watchdogLockWaitMs / 60_000} min waiting for the locks: ${error.message}; ` +
          `run ${runId} stays as it is until a later runbook command in this state dir reverts it (runbook runs shows it past its deadline)`,
      );
      return 3;
    }
    switch (outcome.kind) {
      case 'not-due':
        log(`run ${runId} is not due yet (deadline ${outcome.deadline}; the clock moved?): waiting again`);
        continue;
      case 'settled':
        log(`run ${runId} no longer awaits confirmation (${outcome.confirmation.state}): nothing to do`);
        return 0;
      case 'reverted': {
        const { result } = outcome;
        log(`run ${runId}: ${result.kind === 'nothing' ? result.message : `automatic revert ${result.status}`}`);
        return result.kind === 'nothing' || result.status === 'rolled-back' ? 0 : 1;
      }
    }
  }
}
