import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { HostIdentity, RunStatus } from './entries.js';
import { indexFile, runsDir } from './paths.js';

/**
 * A run's index: a small JSON file beside its journal, rewritten atomically at checkpoints.
 * It answers `runbook runs` without reading every journal, and it records the latest hash of
 * the journal so that entries removed from the end are detectable (`journal --verify`).
 * The journal stays the source of truth: the index only ever lags behind it.
 */
export interface RunIndex {
  id: string;
  runbook: string;
  status: RunStatus;
  /** What the process that last touched the run was doing. */
  activity: 'run' | 'resume' | 'rollback';
  started: string;
  finished: string | undefined;
  /** The process acting on the run; a "running" run whose process is gone was interrupted. */
  pid: number;
  host: HostIdentity;
  lastSeq: number;
  lastHash: string;
}

export function writeRunIndex(stateDir: string, index: RunIndex): void {
  mkdirSync(runsDir(stateDir), { recursive: true });
  const file = indexFile(stateDir, index.id);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(index, null, 2)}\n`);
  renameSync(tmp, file); // atomic: a reader sees the old index or the new one, never half
}

export function readRunIndex(stateDir: string, runId: string): RunIndex | undefined {
  const file = indexFile(stateDir, runId);
  if (!existsSync(file)) return undefined;
  return withLiveStatus(JSON.parse(readFileSync(file, 'utf8')) as RunIndex);
}

/** Every run in the state dir, oldest first (run ids sort by start time). */
export function listRunIndexes(stateDir: string): RunIndex[] {
  if (!existsSync(runsDir(stateDir))) return [];
  return readdirSync(runsDir(stateDir))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readRunIndex(stateDir, f.slice(0, -'.json'.length)))
    .filter((index): index is RunIndex => index !== undefined);
}

/** A run recorded as running whose process no longer exists was interrupted (e.g. kill -9). */
function withLiveStatus(index: RunIndex): RunIndex {
  if (index.status === 'running' && !isProcessAlive(index.pid)) return { ...index, status: 'interrupted' };
  return index;
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
