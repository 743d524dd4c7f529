import { readEnv } from '../env.js';

/**
 * Fault injection for the crash-point sweep test (test/crash/): kills this process with
 * SIGKILL — no cleanup, no flush, exactly like `kill -9` or a power cut after an fsync — at a
 * chosen point. Off unless RUNBOOK_FAULT_KILL is set:
 *
 *   RUNBOOK_FAULT_KILL=entry:N    right after the N-th journal entry this process appended
 *                                 (it is durable on disk, nothing after it is)
 *   RUNBOOK_FAULT_KILL=command:N  after the N-th command this process ran has finished, before
 *                                 its result is journaled (the effect happened, unrecorded)
 *   RUNBOOK_FAULT_KILL=step-end:ID right after the step-end entry of step ID (issue 28: between
 *                                 a step that exports a value and the next, whatever the
 *                                 number of entries before, which retries make vary)
 *
 * Read once at start-up; when unset, each check is one comparison.
 */
const spec = parse(readEnv('faultKill'));
let entries = 0;
let commands = 0;

function parse(
  value: string | undefined,
): { kind: 'entry' | 'command'; n: number } | { kind: 'step-end'; step: string } | undefined {
  const step = /^step-end:(.+)$/.exec(value ?? '');
  if (step !== null) return { kind: 'step-end', step: step[1] as string };
  const match = /^(entry|command):(\d+)$/.exec(value ?? '');
  return match === null ? undefined : { kind: match[1] as 'entry' | 'command', n: Number(match[2]) };
}

/** Called by the journal after each durable append. */
export function afterJournalEntry(entry: { type: string; step?: string }): void {
  if (spec === undefined) return;
  entries += 1;
  if (spec.kind === 'entry' && spec.n === entries) process.kill(process.pid, 'SIGKILL');
  if (spec.kind === 'step-end' && entry.type === 'step-end' && entry.step === spec.step)
    process.kill(process.pid, 'SIGKILL');
}

/** Called by the engine after each command finished, before its result is journaled. */
export function afterCommandFinished(): void {
  if (spec === undefined) return;
  commands += 1;
  if (spec.kind === 'command' && spec.n === commands) process.kill(process.pid, 'SIGKILL');
}
