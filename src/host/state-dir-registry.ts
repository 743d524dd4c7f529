import { closeSync, constants, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * Which state dirs have runs that changed this host (network namespace): kept beside the host
 * lock, in root's /run/runbook, one file per network namespace (`net-<inode>.state-dirs`), one
 * state dir per line. Written by whoever takes the host lock, while holding it, so two writers
 * of one namespace never meet. A rollback reads it to name the runs of other state dirs whose
 * objects it would otherwise delete (issue 22: rollback never removes what another run built
 * in its objects). Only root can write it, as only root can take the lock; it lists paths, and
 * whoever reads a state dir it lists still checks that dir as it checks its own.
 */

/** Enough for any real host; a file that grew past it (a test machine) stops growing. */
const maxEntries = 1000;

/** The registry file of the namespace whose lock file is `lockFile` (`net-<inode>.lock`). */
function registryFile(lockFile: string): string {
  return lockFile.replace(/\.lock$/, '.state-dirs');
}

/** Adds `stateDir` to the state dirs that changed this host, if it is not listed (holding the host lock). */
export function recordStateDir(lockFile: string, stateDir: string): void {
  const file = registryFile(lockFile);
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW, 0o600);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.uid !== 0 || (stat.mode & 0o077) !== 0) return; // not ours: leave it
    const listed = readFileSync(fd, 'utf8').split('\n').filter(Boolean);
    const dir = path.resolve(stateDir);
    if (listed.includes(dir) || listed.length >= maxEntries || dir.includes('\n')) return;
    writeSync(fd, `${dir}\n`);
  } finally {
    closeSync(fd);
  }
}

/** The state dirs recorded as having changed the host of `lockFile`, or [] when none (or unreadable). */
export function recordedStateDirs(lockFile: string): string[] {
  try {
    const fd = openSync(registryFile(lockFile), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) return [];
      return readFileSync(fd, 'utf8').split('\n').filter(Boolean);
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
}
