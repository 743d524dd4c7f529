import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import { describeUser, isTrustedOwner, type TrustedUsers } from './trusted-users.js';

/**
 * Whether a file that decides what root runs (a runbook, an include) may be believed, as
 * OpenSSH's StrictModes judges an authorized_keys file, and more: every directory from / down
 * to it, every symbolic link on the way (the link itself, as `find -L` would not: whoever owns
 * a link can point it elsewhere), and every directory and link on the way to each link's
 * target. Each must be owned by a trusted user (trusted-users.ts); each directory must be
 * writable by no one else, unless it is sticky (like /tmp: others cannot rename or replace what
 * is not theirs there); the file must be a regular file writable by no one else.
 *
 * Returns why not, in one sentence naming the path, or undefined when the file may be believed.
 */
export function untrustedPathReason(file: string, users: TrustedUsers): string | undefined {
  return walk(path.resolve(file), users, 0);
}

/** More links than this on the way is a loop (the kernel's own limit is 40). */
const maxLinks = 40;

function walk(absolute: string, users: TrustedUsers, links: number): string | undefined {
  const parts = absolute.split('/').filter((p) => p !== '');
  let at = '/';
  const root = examine(at);
  if (typeof root === 'string') return root;
  const rootProblem = dirProblem(at, root, users);
  if (rootProblem !== undefined) return rootProblem;
  for (const [i, part] of parts.entries()) {
    const next = path.join(at, part);
    const stats = examine(next);
    if (typeof stats === 'string') return stats;
    const last = i === parts.length - 1;
    if (stats.isSymbolicLink()) {
      if (!isTrustedOwner(users, stats.uid))
        return `${next} is a symbolic link owned by ${describeUser(stats.uid)}, who could point it anywhere`;
      if (links >= maxLinks) return `${absolute}: too many levels of symbolic links`;
      let target: string;
      try {
        target = readlinkSync(next);
      } catch (error) {
        return `${next} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
      }
      const rest = parts.slice(i + 1);
      return walk(path.resolve(at, target, ...rest), users, links + 1);
    }
    const problem = last ? fileProblem(next, stats, users) : dirProblem(next, stats, users);
    if (problem !== undefined) return problem;
    at = next;
  }
  return undefined;
}

function examine(file: string): Stats | string {
  try {
    return lstatSync(file);
  } catch (error) {
    return `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
}

function dirProblem(dir: string, stats: Stats, users: TrustedUsers): string | undefined {
  if (!stats.isDirectory()) return `${dir} is not a directory`;
  if (!isTrustedOwner(users, stats.uid)) return `${dir} is owned by ${describeUser(stats.uid)}`;
  if ((stats.mode & 0o022) !== 0 && (stats.mode & 0o1000) === 0)
    return `${dir} is writable by ${writers(stats)} and not sticky (mode ${mode(stats)})`;
  return undefined;
}

function fileProblem(file: string, stats: Stats, users: TrustedUsers): string | undefined {
  if (!stats.isFile()) return `${file} is not a regular file`;
  if (!isTrustedOwner(users, stats.uid)) return `${file} is owned by ${describeUser(stats.uid)}`;
  if ((stats.mode & 0o022) !== 0) return `${file} is writable by ${writers(stats)} (mode ${mode(stats)})`;
  return undefined;
}

function writers(stats: Stats): string {
  return (stats.mode & 0o002) !== 0 ? 'anyone' : 'its group';
}

function mode(stats: Stats): string {
  return (stats.mode & 0o7777).toString(8).padStart(4, '0');
}
