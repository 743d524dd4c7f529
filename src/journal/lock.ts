import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { RunbookError } from '../errors.js';
import { lockFile } from './paths.js';
import { isProcessAlive } from './run-index.js';

interface LockHolder {
  pid: number;
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
 * names its holder. A lock whose holder process is gone is taken over, with a note.
 */
export function acquireLock(stateDir: string, command: string): Lock {
  mkdirSync(stateDir, { recursive: true });
  const file = lockFile(stateDir);
  const me: LockHolder = { pid: process.pid, command, since: new Date().toISOString() };
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(me)}\n`);
  try {
    let takeoverNote: string | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(tmp, file);
        return { release: () => releaseIfMine(file), takeoverNote };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readHolder(file);
      if (holder !== undefined && isProcessAlive(holder.pid)) {
        throw new RunbookError(
          'locked',
          `another runbook command holds ${file}: pid ${holder.pid} (${holder.command}), since ${holder.since}`,
          {
            hint: 'wait for it to finish; if that process is stuck, stop it (kill its pid) and try again',
          },
        );
      }
      takeoverNote =
        holder === undefined
          ? `took over an unreadable lock at ${file}`
          : `took over the lock left by pid ${holder.pid} (${holder.command}, since ${holder.since}), which no longer runs`;
      removeStaleLock(file, holder);
    }
    throw new RunbookError('locked', `could not take the lock at ${file}: another command took it first`);
  } finally {
    unlinkSync(tmp);
  }
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
    throw error;
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
    return JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}

function releaseIfMine(file: string): void {
  if (readHolder(file)?.pid === process.pid) unlinkSync(file);
}
