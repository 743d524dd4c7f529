import { readFileSync } from 'node:fs';

/** What /proc/<pid>/stat says about a process that matters to us. */
export interface ProcessStat {
  /** Process group and session ids, and the controlling terminal (0: none). */
  pgrp: number;
  session: number;
  ttyNr: number;
  /** Clock ticks after boot at which it started: with the pid, names one process for good. */
  startTime: string;
}

/**
 * Reads /proc/<pid>/stat; undefined if there is no such process. The command name (field 2)
 * may hold spaces and parentheses, so fields are counted from the last ")".
 */
export function readProcessStat(pid: number): ProcessStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // After "pid (comm) ": field 3 (state) is at index 0, so field N is at index N - 3.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const field = (n: number) => fields[n - 3] ?? '';
  return {
    pgrp: Number(field(5)),
    session: Number(field(6)),
    ttyNr: Number(field(7)),
    startTime: field(22),
  };
}

/**
 * Whether `pid` is still the very process that had `startTime`: a pid can be reused by an
 * unrelated process after the first one exits, and signalling that one would be a bug.
 */
export function isSameProcess(pid: number, startTime: string): boolean {
  const stat = readProcessStat(pid);
  return stat !== undefined && stat.startTime === startTime;
}
