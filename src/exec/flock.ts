import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * flock(2) on a file this process has open, through util-linux's `flock` (Node has no flock).
 * The file descriptor is handed to `flock FD` as its fd 3: the kernel's lock belongs to the
 * open file, which this process shares with the child, so the lock stays held by this process
 * once `flock` has exited — until this process closes the file or ends, however it ends (kill -9
 * included). Nothing else is spawned, and nothing lives on to hold the lock for us.
 *
 * Returns 'locked', or 'busy' when another open file holds the lock (a shared or exclusive one).
 */
export function flockExclusiveNow(fd: number): 'locked' | 'busy' {
  const result = spawnSync(flockProgram(), ['--exclusive', '--nonblock', '--conflict-exit-code', '75', '3'], {
    stdio: ['ignore', 'ignore', 'pipe', fd],
    timeout: 10_000,
  });
  if (result.status === 0) return 'locked';
  if (result.status === 75) return 'busy';
  const why =
    result.error !== undefined
      ? (result.error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'the flock program (util-linux) is not installed'
        : result.error.message
      : `flock exited ${result.status ?? result.signal}: ${String(result.stderr).trim()}`;
  throw new Error(why);
}

/**
 * util-linux's flock where the system keeps it, not wherever PATH says: the lock is runbook's
 * own machinery, run as root, and must neither depend on the PATH a runbook's commands are
 * given nor run a program of that name that someone put earlier on it.
 */
function flockProgram(): string {
  return ['/usr/bin/flock', '/bin/flock'].find((file) => existsSync(file)) ?? 'flock';
}
