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
 *   RUNBOOK_FAULT_KILL=after:TYPE  right after the first journal entry of that type, or
 *   RUNBOOK_FAULT_KILL=after:TYPE:STEP  of that type and step: `after:step-end:bridge`,
 *                                 `after:final-pass-start` (issue 28: a point named by what it
 *                                 is, whatever the number of entries before it, which retries vary)
 *
 * Read once at start-up; when unset, each check is one comparison.
 */
const spec = parse(readEnv('faultKill'));
let entries = 0;
let commands = 0;

function parse(
  value: string | undefined,
): { kind: 'entry' | 'command'; n: number } | { kind: 'after'; type: string; step: string | undefined } | undefined {
  const after = /^after:([a-z-]+)(?::(.+))?$/.exec(value ?? '');
  if (after !== null) return { kind: 'after', type: after[1] as string, step: after[2] };
  const match = /^(entry|command):(\d+)$/.exec(value ?? '');
  return match === null ? undefined : { kind: match[1] as 'entry' | 'command', n: Number(match[2]) };
}

/** Called by the journal after each durable append. */
export function afterJournalEntry(entry: { type: string; step?: string }): void {
  if (spec === undefined) return;
  entries += 1;
  if (spec.kind === 'entry' && spec.n === entries) process.kill(process.pid, 'SIGKILL');
  if (spec.kind === 'after' && entry.type === spec.type && (spec.step === undefined || entry.step === spec.step))
    process.kill(process.pid, 'SIGKILL');
}

/** Called by the engine after each command finished, before its result is journaled. */
export function afterCommandFinished(): void {
  if (spec === undefined) return;
  commands += 1;
  if (spec.kind === 'command' && spec.n === commands) process.kill(process.pid, 'SIGKILL');
}
