import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { RunbookError } from '../errors.js';
import { flockExclusiveNow } from '../exec/flock.js';
import type { HostLock } from '../exec/types.js';
import { currentNetns } from './identity.js';
import { lockHolders, type LockHolder } from './lock-holders.js';
import { recordStateDir } from './state-dir-registry.js';

/**
 * One runbook process changing this host's network at a time, whatever its state dir (issue
 * 11). The state dir's lock (journal/lock.ts) keeps two commands of one state dir apart, but a
 * checkout's `state/` and `/var/lib/runbook` are two state dirs on one host: two runs, one from
 * each, would both claim the same objects, and each one's rollback would delete the other's.
 *
 * The lock is a kernel lock (flock) on a file in a directory only root may enter, /run/runbook
 * (issue 22). No unprivileged user can open the file, so none can hold the lock, block root
 * with it, or pose as its holder: the holder shown to the user is found from the kernel (the
 * process that has the locked file open), not from anything it says. (It used to be an
 * abstract unix socket, which any user could bind and answer with a made-up holder.) The
 * kernel releases the lock when its holder ends, however it ends, so a dead holder never
 * leaves a stale lock. There is one file per network namespace (named by its inode): the lock
 * is exactly "this network's host", and a sandbox host (`--sandbox`, `--in`, a test's), which
 * shares /run with the real host, has a lock of its own. It must be taken in the process that
 * runs the steps, which a sandbox re-executes inside its namespaces: the engine takes it.
 */

/** Where host locks live: a directory of root's, which nobody else may enter. */
export const hostLockDir = '/run/runbook';

/** This network namespace's lock file: `net-<inode>.lock`. */
export function hostLockFile(netns = currentNetns()): string {
  const inode = /^net:\[(\d+)\]$/.exec(netns)?.[1];
  if (inode === undefined) throw new RunbookError('internal', `unexpected network namespace name ${netns}`);
  return `${hostLockDir}/net-${inode}.lock`;
}

/** What the holder writes into the file it locked (root's, in a root-only directory). */
interface HolderNote {
  pid: number;
  command: string;
  stateDir: string;
  since: string;
}

export type { HostLock };

/**
 * Takes this host's lock for `command` (which acts in `stateDir`), or throws the "locked" error
 * (exit 3) naming the holder as the kernel knows it. Never waits: a caller that may wait
 * retries (confirm-within/revert-due.ts's withStateLockWaiting, bounded).
 */
export async function acquireHostLock(command: string, stateDir: string): Promise<HostLock> {
  checkLockDir();
  const file = hostLockFile();
  const me: HolderNote = { pid: process.pid, command, stateDir, since: new Date().toISOString() };
  // A second and third attempt cover a holder that released (and removed the file) between our
  // open and our lock: what we locked is then a file nobody will look at again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const fd = openLockFile(file);
    let state: 'locked' | 'busy';
    try {
      state = flockExclusiveNow(fd);
    } catch (error) {
      closeSync(fd);
      throw new RunbookError(
        'internal',
        `could not take this host's runbook lock (${file}): ${(error as Error).message}`,
      );
    }
    if (state === 'busy') {
      closeSync(fd);
      const holders = lockHolders(file);
      if (holders.length === 0) continue; // released meanwhile: try again
      throw lockedError(file, holders, readNote(file), stateDir);
    }
    if (!isStill(file, fd)) {
      closeSync(fd); // the file we locked was removed by the holder that released it
      continue;
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(me)}\n`, 0);
    // Which state dirs changed this host: what a rollback of another state dir needs to name
    // the runs whose objects it finds (engine/foreign-contents.ts).
    try {
      recordStateDir(file, stateDir);
    } catch {
      // best effort: a rollback then names fewer runs, and refuses all the same
    }
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        // Removed while still locked, so that nobody locks it after us and believes they hold
        // the lock while another holds a new file of the same name.
        if (isStill(file, fd)) unlinkSync(file);
        closeSync(fd);
      },
    };
  }
  throw new RunbookError('locked', `could not take this host's runbook lock (${file}): others keep taking it first`, {
    hint: 'wait for them to finish, then try again',
  });
}

/**
 * /run/runbook must be root's and closed to everyone else, and /run writable by root alone:
 * whoever could open a lock file could hold the lock. Made if missing; refused (exit 2) if not
 * so, since a lock others can take protects nothing.
 */
function checkLockDir(): void {
  const untrusted = (why: string) =>
    new RunbookError('untrusted-state-dir', `this host's runbook lock cannot be trusted: ${why}; nothing was changed`, {
      hint:
        process.geteuid?.() === 0
          ? `as root: rm -rf ${hostLockDir} (runbook makes it again, mode 0700), or chown root:root ${hostLockDir} && chmod 0700 ${hostLockDir}`
          : 'run runbook as root (sudo), as every command that changes the host needs',
    });
  const parent = lstatSync('/run');
  if (!parent.isDirectory() || parent.uid !== 0 || (parent.mode & 0o022) !== 0)
    throw untrusted(`/run is not a directory of root's that only root can write`);
  try {
    mkdirSync(hostLockDir, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw untrusted(`${hostLockDir} cannot be made (${code}): not root?`);
    if (code !== 'EEXIST') throw error;
  }
  const dir = lstatSync(hostLockDir);
  if (!dir.isDirectory()) throw untrusted(`${hostLockDir} is not a directory (a link, or a file)`);
  if (dir.uid !== 0) throw untrusted(`${hostLockDir} is owned by uid ${dir.uid}, not root`);
  if ((dir.mode & 0o077) !== 0)
    throw untrusted(`${hostLockDir} is open to others (mode ${(dir.mode & 0o777).toString(8)}, not 700)`);
}

/**
 * Opens (or makes) the lock file, never through a link, and checks it is root's. (Its mode
 * matters less than its directory's, which nobody else may enter; it is made 0600 all the same.)
 */
function openLockFile(file: string): number {
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  const stat = fstatSync(fd);
  if (!stat.isFile() || stat.uid !== 0) {
    closeSync(fd);
    throw new RunbookError(
      'untrusted-state-dir',
      `this host's runbook lock ${file} is not a file of root's; nothing was changed`,
      { hint: `as root: rm ${file}` },
    );
  }
  if ((stat.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  return fd;
}

/** Whether `file` is still the file open as `fd` (not removed or replaced since). */
function isStill(file: string, fd: number): boolean {
  try {
    const [open, named] = [fstatSync(fd), statSync(file)];
    return open.ino === named.ino && open.dev === named.dev;
  } catch {
    return false;
  }
}

/** What the holder wrote about itself (root wrote it: the file is root's alone), if readable. */
function readNote(file: string): HolderNote | undefined {
  try {
    const note = JSON.parse(readFileSync(file, 'utf8')) as HolderNote;
    return typeof note === 'object' && note !== null && Number.isInteger(note.pid) ? note : undefined;
  } catch {
    return undefined;
  }
}

function lockedError(file: string, holders: readonly LockHolder[], note: HolderNote | undefined, stateDir: string) {
  // The holder's own note is believed only for the process the kernel shows holding the lock.
  const noted = holders.find((h) => h.pid === note?.pid) === undefined ? undefined : note;
  const who = holders
    .map(
      (h) =>
        `pid ${h.pid} (uid ${h.uid}, started ${startedAt(h.startTime)}: ${h.commandLine.length > 200 ? `${h.commandLine.slice(0, 200)}…` : h.commandLine})`,
    )
    .join(', ');
  const doing =
    noted === undefined
      ? ''
      : `, doing ${noted.command} since ${noted.since}${noted.stateDir === stateDir ? '' : `; its runs are in ${noted.stateDir}, not in ${stateDir}, so \`runbook runs\` here does not list it`}`;
  return new RunbookError(
    'locked',
    `another runbook process is changing this host (network namespace ${currentNetns()}): ${who}${doing}; nothing was changed`,
    {
      hint: `wait for it to finish, then try again; if it is stuck, stop it by its pid (the lock is ${file}, freed when its holder ends)`,
    },
  );
}

/** A process's start (clock ticks after boot, from /proc/PID/stat) as a time of day. */
function startedAt(ticks: string): string {
  try {
    const bootTime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    // USER_HZ is 100 on every Linux this runs on.
    return new Date((bootTime + Number(ticks) / 100) * 1000).toISOString();
  } catch {
    return `${ticks} ticks after boot`;
  }
}
