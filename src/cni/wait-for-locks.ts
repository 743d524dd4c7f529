import { setTimeout as sleep } from 'node:timers/promises';
import { acquireChangeLocks } from '../engine/recorded-run.js';
import { RunbookError } from '../errors.js';
import type { Executor } from '../exec/types.js';
import type { Lock } from '../journal/lock.js';
import type { RunStore } from '../store/run-store.js';
import { CniError, cniErrorCodes } from './protocol.js';

/**
 * Runtimes call plugins concurrently for different containers (the spec allows it), while
 * runbook changes one host at a time: a CNI call waits for the state dir's lock and the host's
 * (src/engine/recorded-run.ts), polling, at most `timeoutMs`; then it gives up with the spec's
 * "try again later" (11), never at once with the CLI's "locked" (exit 3). The command line keeps
 * failing at once: a person can run it again, a runtime would fail the container.
 *
 * The locks themselves do not wait (issue 22 makes every wait for them bounded): when they
 * can, this loop becomes one call with a deadline.
 */
export async function acquireChangeLocksWithin(
  store: RunStore,
  command: string,
  executor: Executor,
  timeoutMs: number,
): Promise<Lock> {
  const deadline = performance.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await acquireChangeLocks(store, command, executor);
    } catch (error) {
      if (!(error instanceof RunbookError && error.code === 'locked')) throw error;
      // 5, 10, 20, 40, then every 50 ms, with jitter so that waiting calls do not move in step.
      const pause = Math.min(5 * 2 ** attempt, 50) * (0.5 + Math.random());
      if (performance.now() + pause > deadline)
        throw new CniError(
          cniErrorCodes.tryAgainLater,
          `another runbook process is changing this host: waited ${Math.round(timeoutMs / 1000)} s`,
          error.hint === undefined ? error.message : [error.message, '; ', ...error.hint],
        );
      await sleep(pause);
    }
  }
}
