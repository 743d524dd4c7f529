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
export function auditFile(stateDir: string): string {
  return path.join(stateDir, 'audit.ndjson');
}

/** A sortable, readable run id: UTC start time plus a random suffix. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${Math.random().toString(16).slice(2, 6)}`;
}
