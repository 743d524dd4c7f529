import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
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
        throw new RunbookError('locked', `another runbook command holds ${file}: pid ${holder.pid} (${holder.command}), since ${holder.since}`, {
          hint: 'wait for it to finish; if that process is stuck, stop it (kill its pid) and try again',
        });
      }
      takeoverNote = holder === undefined ? `took over an unreadable lock at ${file}` : `took over the lock left by pid ${holder.pid} (${holder.command}, since ${holder.since}), which no longer runs`;
      unlinkSync(file);
    }
    throw new RunbookError('locked', `could not take the lock at ${file}: another command took it first`);
  } finally {
    unlinkSync(tmp);
  }
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
