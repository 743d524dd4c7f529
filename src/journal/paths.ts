import path from 'node:path';

/** Where things live inside a state dir. One place, so that no module guesses a path. */
export function runsDir(stateDir: string): string {
  return path.join(stateDir, 'runs');
}
export function journalFile(stateDir: string, runId: string): string {
  return path.join(runsDir(stateDir), `${runId}.ndjson`);
}
export function indexFile(stateDir: string, runId: string): string {
  return path.join(runsDir(stateDir), `${runId}.json`);
}
export function lockFile(stateDir: string): string {
  return path.join(stateDir, 'lock');
}
/** Runs awaiting confirmation (`run --confirm-within`): one small marker file each (issue 15). */
export function pendingDir(stateDir: string): string {
  return path.join(stateDir, 'pending-confirmations');
}
export function pendingFile(stateDir: string, runId: string): string {
  return path.join(pendingDir(stateDir), `${runId}.json`);
}
export function watchdogLogFile(stateDir: string, runId: string): string {
  return path.join(runsDir(stateDir), `${runId}.watchdog.log`);
}
/** Validated plans, cached by what determines them (src/runbook/plan-cache.ts, issue 16). */
export function plansDir(stateDir: string): string {
  return path.join(stateDir, 'plans');
}
/** Persistent sandbox hosts, one dir each (src/sandbox/persistent.ts). */
export function sandboxesDir(stateDir: string): string {
  return path.join(stateDir, 'sandboxes');
}
export function auditFile(stateDir: string): string {
  return path.join(stateDir, 'audit.ndjson');
}
/** The CNI plugin's log of calls, in a network's state dir (src/cni/, docs/cni.md). */
export function cniCallsFile(stateDir: string): string {
  return path.join(stateDir, 'cni-calls.ndjson');
}
