import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readProcessStat } from './process-start.js';

/** A process holding a kernel lock on a file, as the kernel describes it (/proc). */
export interface LockHolder {
  pid: number;
  /** Its real uid (/proc/PID/status). */
  uid: number;
  /** Its command line, arguments joined by spaces (/proc/PID/cmdline). */
  commandLine: string;
  /** Clock ticks after boot at which it started: with the pid, names it for good. */
  startTime: string;
}

/**
 * The processes holding a flock(2) or POSIX lock on `file`, found from the kernel, never from
 * what a holder says about itself (issue 22): each process's open files (/proc/PID/fd) that are
 * `file`, whose /proc/PID/fdinfo lists a lock on it. Needs root to see other users' processes,
 * which is who may open the file at all. `except` is left out (this process, waiting).
 */
export function lockHolders(file: string, except = process.pid): LockHolder[] {
  const holders: LockHolder[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === except) continue;
    const pid = Number(entry);
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    const holds = fds.some((fd) => {
      try {
        return (
          readlinkSync(`/proc/${pid}/fd/${fd}`) === file &&
          /^lock:/m.test(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))
        );
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    const holder = describeProcess(pid);
    if (holder !== undefined) holders.push(holder);
  }
  return holders;
}

function describeProcess(pid: number): LockHolder | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    const stat = readProcessStat(pid);
    if (stat === undefined) return undefined;
    return { pid, uid, commandLine, startTime: stat.startTime };
  } catch {
    return undefined;
  }
}
