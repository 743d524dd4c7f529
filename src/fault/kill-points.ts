import { readEnv } from '../env.js';
import { cniEnv } from '../cni/protocol.js';

/**
 * Fault injection for the crash-point sweep test (test/crash/): kills this process with
 * SIGKILL — no cleanup, no flush, exactly like `kill -9` or a power cut after an fsync — at a
 * chosen point. Off unless RUNBOOK_FAULT_KILL is set:
 *
 *   RUNBOOK_FAULT_KILL=entry:N    right after the N-th journal entry this process appended
 *                                 (it is durable on disk, nothing after it is)
 *   RUNBOOK_FAULT_KILL=command:N  after the N-th command this process ran has finished, before
 *                                 its result is journaled (the effect happened, unrecorded)
 *
 * and, for the CNI plugin (issue 25), with the prefix `cni-add:` the same points only in a CNI
 * ADD (the runtime passes its environment to every call: its cleanup DEL must not die too), and
 *
 *   RUNBOOK_FAULT_KILL=cni-add:before-ipam   just before the IPAM plugin allocates the address
 *   RUNBOOK_FAULT_KILL=cni-add:after-ipam    just after it did, before any run is journaled
 *
 * Read once at start-up; when unset, each check is one comparison.
 */
const spec = parse(readEnv('faultKill'));
let entries = 0;
let commands = 0;

type KillSpec = { kind: 'entry' | 'command'; n: number } | { kind: 'cni'; point: CniKillPoint };
export type CniKillPoint = 'before-ipam' | 'after-ipam';

function parse(value: string | undefined): KillSpec | undefined {
  const match = /^(cni-add:)?(?:(entry|command):(\d+)|(before-ipam|after-ipam))$/.exec(value ?? '');
  if (match === null) return undefined;
  if (match[1] !== undefined && process.env[cniEnv.command] !== 'ADD') return undefined;
  if (match[4] !== undefined)
    return match[1] === undefined ? undefined : { kind: 'cni', point: match[4] as CniKillPoint };
  return { kind: match[2] as 'entry' | 'command', n: Number(match[3]) };
}

/** Called by the CNI plugin's ADD around its IPAM allocation. */
export function atCniPoint(point: CniKillPoint): void {
  if (spec?.kind === 'cni' && spec.point === point) process.kill(process.pid, 'SIGKILL');
}

/** Called by the journal after each durable append. */
export function afterJournalEntry(): void {
  if (spec === undefined) return;
  entries += 1;
  if (spec.kind === 'entry' && spec.n === entries) process.kill(process.pid, 'SIGKILL');
}

/** Called by the engine after each command finished, before its result is journaled. */
export function afterCommandFinished(): void {
  if (spec === undefined) return;
  commands += 1;
  if (spec.kind === 'command' && spec.n === commands) process.kill(process.pid, 'SIGKILL');
}
