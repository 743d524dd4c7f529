import { linkSync, renameSync, unlinkSync } from 'node:fs';
import { RunbookError } from '../errors.js';
import { lockFile } from './paths.js';
import { goneReason, ownIdentity, type ProcessIdentity } from './process-identity.js';
import { createExclusive, ioError, mkdirPrivate, readNoFollow, removeQuietly } from './safe-fs.js';

/** The holder's pid, start time and boot id: a pid alone may since name another process. */
interface LockHolder extends ProcessIdentity {
  command: string;
  since: string;
}

export interface Lock {
  release(): void;
  /** Set when a lock left by a dead process was taken over. */
  takeoverNote: string | undefined;
}

/**
 * One mutating command (run, resume, rollback) per state dir at a time. The lock file is
 * created atomically (hard link of a complete temp file: it exists whole or not at all) and
 * names its holder. A lock whose holder process is gone (its pid free or now another
 * process's, or it is from an earlier boot) is taken over, with a note.
 */
export function acquireLock(stateDir: string, command: string): Lock {
  mkdirPrivate(stateDir);
  const file = lockFile(stateDir);
  const me: LockHolder = { ...ownIdentity(), command, since: new Date().toISOString() };
  const tmp = `${file}.${process.pid}`;
  removeQuietly(tmp); // left by a crashed process of the same pid, or planted: unlink never follows
  createExclusive(tmp, `${JSON.stringify(me)}\n`);
  try {
    let takeoverNote: string | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(tmp, file);
        return { release: () => releaseIfMine(file), takeoverNote };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(error, file, 'taking the lock');
      }
      const holder = readHolder(file);
      const gone = holder === undefined ? 'unreadable' : goneReason(holder);
      if (holder !== undefined && gone === undefined) throw lockedBy(file, holder);
      takeoverNote =
        holder === undefined
          ? `took over an unreadable lock at ${file}`
          : `took over the lock left by pid ${holder.pid} (${holder.command}, since ${holder.since}), ${gone}`;
      removeStaleLock(file, holder);
    }
    throw new RunbookError('locked', `could not take the lock at ${file}: another command took it first`);
  } finally {
    removeQuietly(tmp);
  }
}

/**
 * Refuses, as acquireLock would, while a live process holds the lock; takes nothing. For a
 * command that must say so before it starts work the lock is taken for only later (a --sandbox
 * run, whose lock is taken inside the sandbox host it makes first).
 */
export function refuseIfLocked(stateDir: string): void {
  const file = lockFile(stateDir);
  const holder = readHolder(file);
  if (holder !== undefined && holder.pid !== process.pid && goneReason(holder) === undefined)
    throw lockedBy(file, holder);
}

function lockedBy(file: string, holder: LockHolder): RunbookError {
  return new RunbookError(
    'locked',
    `another runbook command holds ${file}: pid ${holder.pid} (${holder.command}), since ${holder.since}`,
    { hint: 'wait for it to finish; if that process is stuck, stop it (kill its pid) and try again' },
  );
}

/**
 * Removes a stale lock without ever removing a live one: two processes may both find the same
 * stale lock, and the slower one must not delete the lock the faster one has just taken. So the
 * file is first renamed aside (atomic), then checked: if what was moved is not the stale lock
 * that was read, it is put back.
 */
function removeStaleLock(file: string, stale: LockHolder | undefined): void {
  const aside = `${file}.stale-${process.pid}`;
  try {
    renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else removed it
    throw ioError(error, file, 'moving the stale lock aside');
  }
  const moved = readHolder(aside);
  if (stale !== undefined && moved !== undefined && (moved.pid !== stale.pid || moved.since !== stale.since)) {
    try {
      linkSync(aside, file); // a live lock was moved: put it back (fails only if yet another took its place)
    } catch {
      // the place is taken again; the live holder's lock file is lost, but ours will not be made
    }
  }
  unlinkSync(aside);
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readNoFollow(file)) as LockHolder;
    return typeof holder === 'object' && holder !== null && typeof holder.pid === 'number' ? holder : undefined;
  } catch {
    return undefined;
  }
}

function releaseIfMine(file: string): void {
  if (readHolder(file)?.pid === process.pid) removeQuietly(file);
}
