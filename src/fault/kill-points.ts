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
 * and, for the CNI plugin (issue 25), with the prefix `cni-add:` the same points only in a CNI
 * ADD (the runtime passes its environment to every call: its cleanup DEL must not die too; the
 * plugin arms them with `armCniAddPoints` when the call is an ADD), and
 *
 *   RUNBOOK_FAULT_KILL=cni-add:before-ipam   just before the IPAM plugin allocates the address
 *   RUNBOOK_FAULT_KILL=cni-add:after-ipam    just after it did, before any run is journaled
 *
 * Read once at start-up; when unset, each check is one comparison.
 */
const parsed = parse(readEnv('faultKill'));
let spec = parsed?.cniAddOnly === true ? undefined : parsed?.spec;
let entries = 0;
let commands = 0;

type KillSpec =
  | { kind: 'entry' | 'command'; n: number }
  | { kind: 'after'; type: string; step: string | undefined }
  | { kind: 'cni'; point: CniKillPoint };
export type CniKillPoint = 'before-ipam' | 'after-ipam';

function parse(value: string | undefined): { spec: KillSpec; cniAddOnly: boolean } | undefined {
  const prefixed = /^(cni-add:)?(.*)$/s.exec(value ?? '') as RegExpExecArray;
  const cniAddOnly = prefixed[1] !== undefined;
  const rest = prefixed[2] as string;
  const cni = /^(before-ipam|after-ipam)$/.exec(rest);
  if (cni !== null)
    return cniAddOnly ? { spec: { kind: 'cni', point: cni[1] as CniKillPoint }, cniAddOnly } : undefined;
  const after = /^after:([a-z-]+)(?::(.+))?$/.exec(rest);
  if (after !== null) return { spec: { kind: 'after', type: after[1] as string, step: after[2] }, cniAddOnly };
  const match = /^(entry|command):(\d+)$/.exec(rest);
  return match === null
    ? undefined
    : { spec: { kind: match[1] as 'entry' | 'command', n: Number(match[2]) }, cniAddOnly };
}

/** Called by the CNI plugin when its call is an ADD, before it acts: the `cni-add:` points count from here. */
export function armCniAddPoints(): void {
  if (parsed?.cniAddOnly === true) spec = parsed.spec;
}

/** Called by the CNI plugin's ADD around its IPAM allocation. */
export function atCniPoint(point: CniKillPoint): void {
  if (spec?.kind === 'cni' && spec.point === point) process.kill(process.pid, 'SIGKILL');
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
