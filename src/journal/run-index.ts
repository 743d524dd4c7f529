import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { RunbookError } from '../errors.js';
import type { HostIdentity, JournalEntry, RollbackEndEntry, RunStatus } from './entries.js';
import { indexFile, journalFile, runsDir } from './paths.js';

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
  /** `run --confirm-within`: the deadline by which the run must be confirmed (issue 15). */
  confirmBy?: string | undefined;
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
  let index: RunIndex;
  try {
    index = JSON.parse(readFileSync(file, 'utf8')) as RunIndex;
  } catch {
    throw new RunbookError('journal-damaged', `the index of run ${runId} (${file}) is damaged: not JSON`, {
      hint: 'its journal is intact beside it; restore the index from a backup, or move the run aside',
    });
  }
  return withLiveStatus(stateDir, index);
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

/**
 * A run recorded as running whose process no longer exists stopped without updating its index:
 * killed mid-run (interrupted), or killed between writing its last journal entry and the index.
 * The journal, which is always ahead of the index, says which.
 */
function withLiveStatus(stateDir: string, index: RunIndex): RunIndex {
  if (index.status !== 'running' || isProcessAlive(index.pid)) return index;
  return { ...index, status: statusFromJournalEnd(stateDir, index.id) };
}

/** The status the journal's last run-end or rollback-end gives, if nothing was started after it. */
function statusFromJournalEnd(stateDir: string, runId: string): RunStatus {
  const file = journalFile(stateDir, runId);
  if (!existsSync(file)) return 'interrupted';
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    let entry: JournalEntry;
    try {
      entry = JSON.parse(lines[i] as string) as JournalEntry;
    } catch {
      continue; // a torn last line
    }
    if (entry.type === 'run-end') return entry.status;
    if (entry.type === 'rollback-end') return rollbackEndStatus(entry);
    if (entry.type === 'confirm-pending' || entry.type === 'watchdog-started') return 'awaiting-confirmation';
    if (entry.type === 'confirmed') return 'confirmed';
    if (
      entry.type === 'run-start' ||
      entry.type === 'attempt-start' ||
      entry.type === 'command-start' ||
      entry.type === 'step-start' ||
      entry.type === 'rollback-start'
    )
      return 'interrupted';
  }
  return 'interrupted';
}

/** How a rollback's end leaves the run: an automatic revert (it has a reason) shows as `reverted`. */
export function rollbackEndStatus(entry: RollbackEndEntry): RunStatus {
  return entry.status === 'rolled-back' && entry.reason !== undefined ? 'reverted' : entry.status;
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
