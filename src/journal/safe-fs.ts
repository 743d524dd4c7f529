import {
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { RunbookError } from '../errors.js';
import { advice, runbookCommand } from '../suggestion.js';

/**
 * The only way runbook writes into its state dir (issue 10): dirs are made 0700 and files
 * 0600 (journals hold every command and its output), no write ever follows a symbolic link
 * (O_NOFOLLOW: one planted where a journal, an index or the lock goes would otherwise make
 * root write wherever it points), temporaries are created exclusively (O_EXCL), and a failed
 * write (full disk, I/O error, read-only file system) becomes a message naming the file and the
 * cause, never a stack trace.
 */

const { O_WRONLY, O_RDONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;

/**
 * Makes a dir and its missing parents, private to the invoking user, one level at a time:
 * Node's recursive mkdir reports a read-only file system as ENOENT, and loops forever (deaf to
 * SIGTERM) where mkdir keeps failing with ENOENT under a dir that exists (/proc/sys/x/y: a
 * CNI configuration's `stateDir` hung every ADD). One level at a time reports the real cause.
 */
export function mkdirPrivate(dir: string): void {
  const missing: string[] = [];
  for (let at = path.resolve(dir); !existsSync(at); at = path.dirname(at)) {
    missing.unshift(at);
    if (at === path.dirname(at)) break;
  }
  for (const at of missing) {
    try {
      mkdirSync(at, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue; // made meanwhile
      throw ioError(error, dir, 'creating the directory');
    }
  }
}

/** Opens a file for appending, creating it 0600; refuses a symbolic link. */
export function openForAppend(file: string): number {
  try {
    return openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o600);
  } catch (error) {
    throw ioError(error, file, 'opening');
  }
}

/** Opens a file to read; refuses a symbolic link. */
export function readNoFollow(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, O_RDONLY | O_NOFOLLOW);
  } catch (error) {
    throw ioError(error, file, 'opening');
  }
  try {
    return readFileSync(fd, 'utf8');
  } catch (error) {
    throw ioError(error, file, 'reading');
  } finally {
    closeSync(fd);
  }
}

/** Writes all of `text` at the fd's position (a loop: write(2) may write less than asked). */
export function writeAll(fd: number, text: string | Buffer, file: string): void {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  let done = 0;
  try {
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  } catch (error) {
    throw ioError(error, file, 'writing');
  }
}

export function syncFd(fd: number, file: string): void {
  try {
    fsyncSync(fd);
  } catch (error) {
    throw ioError(error, file, 'syncing');
  }
}

/** Creates a new file with this text, failing if anything (a file, a link) is already there. */
export function createExclusive(file: string, text: string): void {
  let fd: number;
  try {
    fd = openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  } catch (error) {
    throw ioError(error, file, 'creating');
  }
  try {
    writeAll(fd, text, file);
  } catch (error) {
    closeSync(fd);
    removeQuietly(file);
    throw error;
  }
  closeSync(fd);
}

/**
 * Replaces a file atomically: a reader sees the old text or the new, never half. The
 * temporary is created exclusively, after removing one a crashed process of the same pid left
 * (unlink removes a planted link itself, never its target).
 */
export function replaceFile(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  removeQuietly(tmp);
  try {
    createExclusive(tmp, text);
  } catch (error) {
    // Named by the file it replaces: the temporary's name means nothing to the user.
    throw ioError((error as RunbookError).cause ?? error, file, 'writing');
  }
  try {
    renameSync(tmp, file);
  } catch (error) {
    removeQuietly(tmp);
    throw ioError(error, file, 'replacing');
  }
}

export function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // not there (or not ours to remove): nothing to clean up
  }
}

/** What an errno means, as a person would say it. */
const causes: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'it is a symbolic link, which runbook never follows in its state dir',
  ENOTDIR: 'a part of the path is not a directory',
  EEXIST: 'something is already there',
  EISDIR: 'it is a directory',
  ENOENT: 'no such file or directory',
};

/**
 * A failed state-dir operation as a message: the file, the cause, and how to continue. The
 * command stops there: the journal's rule "no command runs before its intent is durable" means
 * a failed write ends the run before its next host command.
 */
export function ioError(error: unknown, file: string, doing: string, runId?: string): RunbookError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const cause = causes[code] ?? (error instanceof Error ? error.message : String(error));
  const id = runId === undefined ? [] : [runId];
  const [resume, rollback] = [runbookCommand('resume', ...id), runbookCommand('rollback', ...id)];
  return new RunbookError('io-error', `${doing} ${file} failed: ${cause}${code ? ` (${code})` : ''}`, {
    hint:
      code === 'ENOSPC' || code === 'EDQUOT'
        ? advice`free space on that file system, then continue the run with \`${resume}\` or undo it with \`${rollback}\``
        : code === 'ELOOP' || code === 'EEXIST'
          ? 'remove what was planted there (only runbook should write in its state dir), then try again'
          : advice`fix the file system (or use another --state-dir), then \`${resume}\` or \`${rollback}\``,
    cause: error,
  });
}

/** The same failure, its hint naming the run to resume or roll back. */
export function ioErrorOfRun(error: unknown, runId: string): unknown {
  if (!(error instanceof RunbookError) || error.code !== 'io-error') return error;
  return new RunbookError('io-error', error.message, {
    hint: ioError(error.cause, '', '', runId).hint,
    cause: error.cause,
  });
}
