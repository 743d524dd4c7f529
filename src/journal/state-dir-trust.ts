import {
  accessSync,
  constants,
  lstatSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { RunbookError } from '../errors.js';
import { auditFile, lockFile, pendingDir, plansDir, runsDir } from './paths.js';
import { mkdirPrivate } from './safe-fs.js';

/**
 * Trust before use (issue 10), as OpenSSH's StrictModes and git's safe.directory do it.
 * `rollback` and `resume` run, as root, the commands recorded in the state dir: whoever can
 * write there can make root run anything (the hash chain only shows tampering by someone who
 * cannot recompute it). So before any command reads or writes the state dir, the dir and every
 * entry runbook uses in it (runs/ and the run files, sandboxes/ and each sandbox dir, the lock,
 * audit.ndjson, plans/ and each cached plan) must be owned by the invoking user, writable by no
 * one else, and not symbolic links. Otherwise the command stops with exit 2, naming the path,
 * its owner and mode and the fix, before anything is read or changed. Read-only commands refuse
 * too: an untrusted journal can lie about what was done.
 *
 * Called with the resolved state dir; `write` also creates it (0700) when missing and refuses
 * a read-only one.
 */
export function trustStateDir(stateDir: string, access: 'read' | 'write'): void {
  if (stateDir === '') throw untrusted('the state dir is the empty string', 'name a directory with --state-dir');
  checkAncestors(stateDir);
  const stats = lstatOrUndefined(stateDir);
  if (stats === undefined) {
    if (access === 'read') return; // nothing recorded yet: the command says so
    try {
      mkdirPrivate(stateDir);
    } catch (error) {
      // Nothing was made: input to fix (a read-only file system, a dir not ours), not a failure mid-way.
      throw new RunbookError(
        'invalid-input',
        `cannot create the state dir: ${(error as Error).message}; nothing was changed`,
        {
          hint: 'use a directory you can write with --state-dir',
        },
      );
    }
    return;
  }
  checkEntry(stateDir, stats, 'dir', stateDir);
  if (access === 'write') checkWritable(stateDir);
  for (const [entry, kind] of [
    [runsDir(stateDir), 'dir'],
    [path.join(stateDir, 'sandboxes'), 'dir'],
    [lockFile(stateDir), 'file'],
    [auditFile(stateDir), 'file'],
    [pendingDir(stateDir), 'dir'],
    [plansDir(stateDir), 'dir'],
  ] as const) {
    const entryStats = lstatOrUndefined(entry);
    if (entryStats !== undefined) checkEntry(entry, entryStats, kind, stateDir);
  }
  // Every run file (journals, indexes) and every sandbox dir, since commands read them all.
  for (const [dir, kind] of [
    [runsDir(stateDir), 'file'],
    [path.join(stateDir, 'sandboxes'), 'dir'],
    [pendingDir(stateDir), 'file'],
    // A cached plan is what `run` executes: as trusted as a journal, or not used (plan-cache.ts).
    [plansDir(stateDir), 'file'],
  ] as const) {
    if (lstatOrUndefined(dir) === undefined) continue;
    for (const name of readdirSync(dir)) {
      const entry = path.join(dir, name);
      const entryStats = lstatOrUndefined(entry);
      if (entryStats !== undefined) checkEntry(entry, entryStats, kind, stateDir);
    }
  }
}

function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR')
      throw untrusted(`${path.dirname(file)} is not a directory`, 'point --state-dir at a directory');
    throw untrusted(`${file} cannot be examined: ${(error as Error).message}`, 'check the path and its permissions');
  }
}

/**
 * Whether an entry passes the rule above (not a link, of its kind, the invoking user's, writable
 * by no one else), without throwing: for the plan cache, which falls back to parsing the runbook.
 */
export function isTrustedEntry(stats: Stats, kind: 'dir' | 'file'): boolean {
  const me = process.geteuid?.() ?? stats.uid;
  const rightKind = kind === 'dir' ? stats.isDirectory() : stats.isFile();
  return !stats.isSymbolicLink() && rightKind && stats.uid === me && (stats.mode & 0o022) === 0;
}

/** Refuses an entry that is a link, of the wrong kind, someone else's, or writable by others. */
function checkEntry(file: string, stats: Stats, kind: 'dir' | 'file', stateDir: string): void {
  const isStateDir = file === stateDir;
  const what = isStateDir ? 'the state dir' : `${path.relative(stateDir, file)} in the state dir`;
  const owner = `owner ${userName(stats.uid)} (uid ${stats.uid}), mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')}`;
  if (stats.isSymbolicLink()) {
    throw untrusted(
      `${what} ${file} is a symbolic link (${owner}); runbook never follows links in its state dir`,
      isStateDir
        ? 'name the real directory with --state-dir'
        : `remove the link (rm ${file}); only runbook should create entries there`,
    );
  }
  const rightKind = kind === 'dir' ? stats.isDirectory() : stats.isFile();
  if (!rightKind) {
    throw untrusted(
      `${what} ${file} is not a ${kind === 'dir' ? 'directory' : 'regular file'} (${owner})`,
      isStateDir ? 'point --state-dir at a directory' : `move it aside; only runbook should create entries there`,
    );
  }
  const me = process.geteuid?.() ?? stats.uid;
  const problem =
    stats.uid !== me
      ? `is owned by ${userName(stats.uid)}, not by you (${userName(me)})`
      : (stats.mode & 0o022) !== 0
        ? `is writable by ${(stats.mode & 0o002) !== 0 ? 'anyone' : 'its group'}`
        : undefined;
  if (problem === undefined) return;
  const mode = kind === 'dir' ? '700' : '600';
  throw untrusted(
    `${what} ${file} ${problem} (${owner}): whoever can write there can make runbook run any command as you`,
    `if its content is yours to trust: chown ${userName(me)}: ${file}; chmod ${mode} ${file}${isStateDir ? '' : ` (or for everything: chown -R ${userName(me)}: ${stateDir}; chmod -R go-w ${stateDir})`}`,
  );
}

/**
 * The dirs above the state dir, as OpenSSH's StrictModes checks them: whoever can rename
 * entries in one of them can swap the state dir for their own after it was checked. Each must
 * be owned by root or you and not writable by others, unless sticky (like /tmp: others cannot
 * rename what is yours there).
 */
function checkAncestors(stateDir: string): void {
  // The nearest dir above that exists (and that this user can see: one it cannot reach, it
  // cannot read a state dir through either).
  let dir = path.dirname(path.resolve(stateDir));
  while (!visible(dir) && dir !== path.dirname(dir)) dir = path.dirname(dir);
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    return; // not there at all: mkdir will say why
  }
  const me = process.geteuid?.() ?? 0;
  for (let at = real; ; at = path.dirname(at)) {
    const stats = statSync(at);
    const problem =
      stats.uid !== 0 && stats.uid !== me
        ? `is owned by ${userName(stats.uid)}`
        : (stats.mode & 0o022) !== 0 && (stats.mode & 0o1000) === 0
          ? `is writable by ${(stats.mode & 0o002) !== 0 ? 'anyone' : 'its group'} (and not sticky)`
          : undefined;
    if (problem !== undefined) {
      throw untrusted(
        `${at}, above the state dir ${stateDir}, ${problem} (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')}): whoever can write there can swap the state dir for another`,
        `use a state dir whose parent dirs only root or you can change, or: chmod go-w ${at}`,
      );
    }
    if (at === path.dirname(at)) return;
  }
}

function visible(dir: string): boolean {
  try {
    lstatSync(dir);
    return true;
  } catch {
    return false;
  }
}

function checkWritable(stateDir: string): void {
  try {
    accessSync(stateDir, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new RunbookError(
      'invalid-input',
      `the state dir ${stateDir} is not writable (${code === 'EROFS' ? 'read-only file system' : 'permission denied'}); nothing was changed`,
      { hint: 'use a writable directory with --state-dir' },
    );
  }
}

function untrusted(message: string, hint: string): RunbookError {
  return new RunbookError(
    'untrusted-state-dir',
    `refusing to use the state dir: ${message}; nothing was read or changed`,
    {
      hint,
    },
  );
}

/** A uid's name from /etc/passwd, else the number. */
function userName(uid: number): string {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name !== undefined && Number(id) === uid && id !== '') return name;
    }
  } catch {
    // no passwd file (a minimal container): the number says enough
  }
  return String(uid);
}
