import { readFileSync } from 'node:fs';

/** One line of /proc/self/mountinfo: what is mounted where, in this process's mount namespace. */
export interface MountEntry {
  id: number;
  parentId: number;
  /** What of the source is mounted: for an nsfs mount, the namespace ("net:[4026532248]"). */
  root: string;
  mountPoint: string;
  fsType: string;
}

/** The kernel escapes space, tab, newline and backslash in paths as three-digit octal. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

export function readMounts(file = '/proc/self/mountinfo'): MountEntry[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      // id parent major:minor root mount-point options [optional fields…] - fstype source super-options
      const [before, after] = line.split(' - ');
      const fields = (before ?? '').split(' ');
      return {
        id: Number(fields[0]),
        parentId: Number(fields[1]),
        root: unescape(fields[3] ?? ''),
        mountPoint: unescape(fields[4] ?? ''),
        fsType: (after ?? '').split(' ')[0] ?? '',
      };
    });
}

/** Mounts at `dir` or anywhere below it, deepest (then most recent) first: the order to unmount. */
export function mountsAtOrUnder(dir: string, mounts = readMounts()): MountEntry[] {
  const base = dir.replace(/\/+$/, '');
  return mounts
    .filter((m) => m.mountPoint === base || m.mountPoint.startsWith(`${base}/`))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length || b.id - a.id);
}

/** The namespace bind-mounted at `file` (e.g. "net:[4026532248]"), if an nsfs mount is there. */
export function nsfsMountAt(file: string, mounts = readMounts()): string | undefined {
  const found = mounts.filter((m) => m.mountPoint === file && m.fsType === 'nsfs').pop();
  return found?.root;
}
