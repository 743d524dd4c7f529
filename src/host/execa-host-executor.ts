import { createExecaExecutor } from '../exec/execa-executor.js';
import type { Executor } from '../exec/types.js';
import { acquireHostLock } from './host-lock.js';
import { resolvesOnPath } from './preflight.js';

/**
 * Every command through execa, with this host's lock and PATH: for what only changes the host
 * (the watchdog's revert, a late confirm, the automatic revert before a command). The exec
 * layer knows nothing of whose host it changes; this is where the two meet (CONTRIBUTING.md,
 * Layers). Apart from host-executor.ts so that a `check` never loads execa.
 */
export function createExecaHostExecutor(): Executor {
  return createExecaExecutor({ resolves: (program) => resolvesOnPath(program), lockHost: acquireHostLock });
}
