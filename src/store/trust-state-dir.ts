import { accessSync, constants, lstatSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { RunbookError } from '../errors.js';
import { auditFile, lockFile, pendingDir, plansDir, runsDir, sandboxesDir } from '../journal/paths.js';
import { mkdirPrivate } from '../journal/safe-fs.js';
import {
  describeUser,
  isTrustedOwner,
  thirdUserCode,
  trustedInWords,
  userName,
  type TrustedUsers,
} from '../trust/trusted-users.js';

/**
 * Trust before use (issues 10 and 22), as OpenSSH's StrictModes and git's safe.directory do it.
 * `rollback`, `resume` and the automatic revert run, as root, the commands recorded in the
 * state dir: whoever can write there can make root run anything (the hash chain only shows
 * tampering by someone who cannot recompute it). So before anything reads or writes the state
 * dir, the dir, the dirs above it and every entry runbook uses in it (runs/ and the run files,
 * sandboxes/ and each sandbox dir, the lock, audit.ndjson, pending-confirmations/, plans/ and
 * each cached plan) must be owned by a trusted user (src/trust/trusted-users.ts), writable by no
 * one else, and not symbolic links. Otherwise exit 2, naming the path, its owner and mode and
 * a fix that works, before anything is read or changed. Read-only commands refuse too: an
 * untrusted journal can lie about what was done.
 *
 * Called by openRunStore (open-run-store.ts) only: the one door. `write` also creates the dir
 * (0700) when missing and refuses a read-only one.
 */
export function trustStateDir(
  stateDir: string,
  access: 'read' | 'write',
  users: TrustedUsers,
  ownStateDir: string | undefined,
): void {
  const refuse = refusal(stateDir, users, ownStateDir);
  if (stateDir === '') throw untrusted('the state dir is the empty string', 'name a directory with --state-dir');
  checkAncestors(stateDir, users, refuse);
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
    // Checked again, now that it is there: between the check above and the mkdir, someone who
    // can write a dir above (/tmp, sticky) may have made the state dir, or a dir on its way,
    // their own; mkdir then succeeds (EEXIST is "made meanwhile") and the dir would be theirs.
    const made = lstatOrUndefined(stateDir);
    if (made === undefined) throw untrusted(`${stateDir} vanished as it was made`, 'try again');
    checkAncestors(stateDir, users, refuse);
    checkEntry(stateDir, made, 'dir', stateDir, users, refuse);
    return;
  }
  checkEntry(stateDir, stats, 'dir', stateDir, users, refuse);
  if (access === 'write') checkWritable(stateDir, stats, users);
  for (const [entry, kind] of [
    [runsDir(stateDir), 'dir'],
    [sandboxesDir(stateDir), 'dir'],
    [lockFile(stateDir), 'file'],
    [auditFile(stateDir), 'file'],
    [pendingDir(stateDir), 'dir'],
    [plansDir(stateDir), 'dir'],
  ] as const) {
    const entryStats = lstatOrUndefined(entry);
    if (entryStats !== undefined) checkEntry(entry, entryStats, kind, stateDir, users, refuse);
  }
  // Every run file (journals, indexes) and every sandbox dir, since commands read them all.
  for (const [dir, kind] of [
    [runsDir(stateDir), 'file'],
    [sandboxesDir(stateDir), 'dir'],
    [pendingDir(stateDir), 'file'],
    // A cached plan is what `run` executes: as trusted as a journal, or not used (plan-cache.ts).
    [plansDir(stateDir), 'file'],
  ] as const) {
    if (lstatOrUndefined(dir) === undefined) continue;
    for (const name of readdirSync(dir)) {
      const entry = path.join(dir, name);
      const entryStats = lstatOrUndefined(entry);
      if (entryStats !== undefined) checkEntry(entry, entryStats, kind, stateDir, users, refuse);
    }
  }
}

/**
 * Whether an entry passes the rule above (not a link, of its kind, a trusted user's, writable
 * by no one else), without throwing: for the plan cache, which re-checks the file it opened.
 */
export function isTrustedEntry(stats: Stats, kind: 'dir' | 'file', users: TrustedUsers): boolean {
  const rightKind = kind === 'dir' ? stats.isDirectory() : stats.isFile();
  return !stats.isSymbolicLink() && rightKind && isTrustedOwner(users, stats.uid) && (stats.mode & 0o022) === 0;
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

type Refuse = (message: string, owner: number, fixes: string[]) => RunbookError;

/**
 * The refusal of a path: the message, then what to do. When the owner is the owner of the code
 * but not trusted (a third user's checkout), the explanation comes first and a state dir of
 * one's own is offered before chown (which would take the checkout's files from their owner).
 */
function refusal(stateDir: string, users: TrustedUsers, ownStateDir: string | undefined): Refuse {
  return (message, owner, fixes) => {
    const third = thirdUserCode(users, owner);
    const elsewhere =
      ownStateDir !== undefined && ownStateDir !== stateDir
        ? `use a state dir of your own: --state-dir ${ownStateDir}`
        : undefined;
    const hints = third === undefined ? [...fixes, elsewhere] : [elsewhere, ...fixes];
    return untrusted(
      third === undefined ? message : `${message}; ${third}`,
      hints.filter((h): h is string => h !== undefined).join('; or '),
    );
  };
}

/** Refuses an entry that is a link, of the wrong kind, an untrusted user's, or writable by others. */
function checkEntry(
  file: string,
  stats: Stats,
  kind: 'dir' | 'file',
  stateDir: string,
  users: TrustedUsers,
  refuse: Refuse,
): void {
  const isStateDir = file === stateDir;
  const what = isStateDir ? 'the state dir' : `${path.relative(stateDir, file)} in the state dir`;
  const owner = `owner ${describeUser(stats.uid)}, mode ${modeOf(stats)}`;
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
  const ownerTrusted = isTrustedOwner(users, stats.uid);
  if (ownerTrusted && (stats.mode & 0o022) === 0) return;
  const problem = !ownerTrusted
    ? `is owned by ${describeUser(stats.uid)}, not by ${trustedInWords(users)}`
    : `is writable by ${(stats.mode & 0o002) !== 0 ? 'anyone' : 'its group'}`;
  const mode = kind === 'dir' ? '700' : '600';
  const me = userName(users.me);
  const fix = ownerTrusted
    ? `chmod go-w ${file}${isStateDir ? '' : ` (or for everything: chmod -R go-w ${stateDir})`}`
    : `if its content is yours to trust: chown ${me}: ${file}; chmod ${mode} ${file}${isStateDir ? '' : ` (or for everything: chown -R ${me}: ${stateDir}; chmod -R go-w ${stateDir})`}`;
  throw refuse(
    `${what} ${file} ${problem} (${owner}): whoever can write there can make runbook run any command as you`,
    stats.uid,
    [fix],
  );
}

/**
 * The dirs above the state dir, as OpenSSH's StrictModes checks them: whoever can rename
 * entries in one of them can swap the state dir for their own after it was checked. Each must
 * be owned by a trusted user and not writable by others, unless sticky (like /tmp: others
 * cannot rename what is yours there).
 */
function checkAncestors(stateDir: string, users: TrustedUsers, refuse: Refuse): void {
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
  for (let at = real; ; at = path.dirname(at)) {
    const stats = statSync(at);
    const mode = `mode ${modeOf(stats)}`;
    if (!isTrustedOwner(users, stats.uid)) {
      throw refuse(
        `${at}, above the state dir ${stateDir}, is owned by ${describeUser(stats.uid)} (${mode}), not by ${trustedInWords(users)}: whoever owns it can swap the state dir for another`,
        stats.uid,
        [],
      );
    }
    if ((stats.mode & 0o022) !== 0 && (stats.mode & 0o1000) === 0) {
      throw refuse(
        `${at}, above the state dir ${stateDir}, is writable by ${(stats.mode & 0o002) !== 0 ? 'anyone' : 'its group'} (and not sticky) (${mode}): whoever can write there can swap the state dir for another`,
        stats.uid,
        [`chmod go-w ${at}`],
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

function checkWritable(stateDir: string, stats: Stats, users: TrustedUsers): void {
  try {
    accessSync(stateDir, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const roots = code !== 'EROFS' && stats.uid === 0 && users.me !== 0;
    throw new RunbookError(
      'invalid-input',
      `the state dir ${stateDir} is not writable (${code === 'EROFS' ? 'read-only file system' : 'permission denied'}); nothing was changed`,
      {
        hint: roots
          ? "it is root's: run the command as root (sudo), or use a directory you can write with --state-dir"
          : 'use a writable directory with --state-dir',
      },
    );
  }
}

function modeOf(stats: Stats): string {
  return (stats.mode & 0o7777).toString(8).padStart(4, '0');
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
