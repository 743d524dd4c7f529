import { readFileSync } from 'node:fs';

/**
 * Who a process is, beyond its pid: pids are reused (after a reboot at once, and otherwise
 * when they wrap), so a lock or a run that names only a pid may name a stranger. A process is
 * the same one when its pid, its start time and the boot it started in all match (issue 10).
 */
export interface ProcessIdentity {
  pid: number;
  /** /proc/PID/stat field 22: clock ticks after boot when the process started. */
  startTime: string | undefined;
  /** /proc/sys/kernel/random/boot_id: differs after every reboot. */
  bootId: string | undefined;
}

export function processIsAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Field 22 of /proc/PID/stat. The second field is the command name in parentheses, and it may
 * itself contain spaces and parentheses: fields are counted from after the last ')'.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    return startTimeFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

export function startTimeFromStat(stat: string): string | undefined {
  const afterComm = stat
    .slice(stat.lastIndexOf(')') + 1)
    .trim()
    .split(/\s+/);
  // afterComm[0] is field 3 (state), so field 22 is afterComm[19].
  const value = afterComm[22 - 3];
  return value !== undefined && /^\d+$/.test(value) ? value : undefined;
}

export function currentBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export function ownIdentity(): ProcessIdentity {
  return { pid: process.pid, startTime: processStartTime(process.pid), bootId: currentBootId() };
}

/**
 * Why a recorded process is no longer running, or undefined if it is (as far as can be told:
 * a record without start time or boot id is judged by its pid alone).
 */
export function goneReason(recorded: Partial<ProcessIdentity> & { pid: number }): string | undefined {
  const bootId = currentBootId();
  if (recorded.bootId !== undefined && bootId !== undefined && recorded.bootId !== bootId)
    return 'which is from an earlier boot';
  if (!processIsAlive(recorded.pid)) return 'which no longer runs';
  if (recorded.startTime !== undefined) {
    const now = processStartTime(recorded.pid);
    if (now !== undefined && now !== recorded.startTime)
      return `whose pid now belongs to another process (started at tick ${now}, not ${recorded.startTime})`;
  }
  return undefined;
}
