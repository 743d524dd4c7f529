import { existsSync, readdirSync, statSync } from 'node:fs';
import { RunbookError } from '../errors.js';
import type { HostIdentity, JournalLine, RunStatus } from './entries.js';
import { chainEnd } from './hash-chain.js';
import { goneReason } from './process-identity.js';
import { indexFile, journalFile, runsDir } from './paths.js';
import { readJournal, runStartOf, statusFromEnd, verifyJournal } from './reader.js';
import { mkdirPrivate, readNoFollow, replaceFile } from './safe-fs.js';

/**
 * A run's index: a small JSON file beside its journal, rewritten atomically at checkpoints.
 * It answers `runbook runs` without reading every journal, and it records the latest hash of
 * the journal so that entries removed from the end are detectable (`journal --verify`).
 * The journal stays the source of truth: the index only ever lags behind it, and one that is
 * missing or unreadable is rebuilt from the journal (with a note).
 */
export interface RunIndex {
  id: string;
  runbook: string;
  /** `damaged`: the run's files cannot be read as a run (see `damage`); nothing acts on it. */
  status: RunStatus | 'damaged';
  /** What the process that last touched the run was doing. */
  activity: 'run' | 'resume' | 'rollback' | 'replace';
  started: string;
  finished: string | undefined;
  /** The process acting on the run; a "running" run whose process is gone was interrupted. */
  pid: number;
  /** That process's start time and boot (process-identity.ts), so a reused pid is not it. */
  pidStartTime?: string | undefined;
  bootId?: string | undefined;
  host: HostIdentity;
  lastSeq: number;
  lastHash: string;
  /** `run --confirm-within`: the deadline by which the run must be confirmed (issue 15). */
  confirmBy?: string | undefined;
  /** Not stored: why the run is damaged (status `damaged`). */
  damage?: string | undefined;
  /** Not stored: set when the index was rebuilt from the journal, saying why. */
  rebuilt?: string | undefined;
}

export function writeRunIndex(stateDir: string, index: RunIndex): void {
  mkdirPrivate(runsDir(stateDir));
  const { damage: _damage, rebuilt: _rebuilt, ...stored } = index;
  replaceFile(indexFile(stateDir, index.id), `${JSON.stringify(stored, null, 2)}\n`);
}

/**
 * A run's index as read from its file, or rebuilt from its journal when the file is missing or
 * unreadable; a run whose files disagree or cannot be read comes back with status `damaged`.
 * Undefined when the run has neither an index nor a journal.
 */
export function readRunIndex(stateDir: string, runId: string): RunIndex | undefined {
  const file = indexFile(stateDir, runId);
  const journal = journalFile(stateDir, runId);
  if (!existsSync(file)) {
    // Neither, or an empty journal only (its first write failed before any index was): no run.
    if (!existsSync(journal) || statSync(journal).size === 0) return undefined;
    return rebuildIndex(stateDir, runId, `run ${runId} had no index (${file}); it was rebuilt from its journal`);
  }
  const index = parseIndex(readNoFollow(file), runId);
  if (index === undefined)
    return rebuildIndex(
      stateDir,
      runId,
      `the index of run ${runId} (${file}) was unreadable; it was rebuilt from its journal`,
    );
  // The index says how many entries the journal had at its last checkpoint: a journal that is
  // gone or empty since is damage, never "a run that recorded nothing".
  if (index.lastSeq > 0 && (!existsSync(journal) || statSync(journal).size === 0)) {
    return damagedIndex(
      runId,
      `its index records ${index.lastSeq} journal entries but ${journal} is ${existsSync(journal) ? 'empty' : 'missing'}`,
      index,
    );
  }
  return withLiveStatus(stateDir, index);
}

function parseIndex(text: string, runId: string): RunIndex | undefined {
  try {
    const index = JSON.parse(text) as RunIndex;
    const wellFormed =
      typeof index === 'object' &&
      index !== null &&
      index.id === runId &&
      typeof index.lastSeq === 'number' &&
      typeof index.status === 'string' &&
      typeof index.host === 'object';
    return wellFormed ? index : undefined;
  } catch {
    return undefined;
  }
}

/** The index a journal implies: what `runs` needs, and the chain end for `--verify`. */
function rebuildIndex(stateDir: string, runId: string, why: string): RunIndex {
  try {
    const journal = readJournal(journalFile(stateDir, runId));
    const start = runStartOf(journal);
    const end = chainEnd(journal.raw);
    const latest = [...journal.lines].reverse();
    const lastAttempt = latest.find((l) => l.type === 'attempt-start');
    const lastEnd = latest.find((l) => l.type === 'run-end' || l.type === 'rollback-end');
    const lastDeadline = latest.find((l) => l.type === 'confirm-pending' || l.type === 'deadline-moved');
    return {
      id: runId,
      runbook: start.runbook,
      // Nothing records the pid of the first attempt; a rebuilt run is never "running".
      status: statusFromEnd(journal),
      activity: lastAttempt?.kind ?? 'run',
      started: (journal.lines[0] as JournalLine).time,
      finished: lastEnd?.time,
      pid: lastAttempt?.pid ?? 0,
      host: start.host,
      lastSeq: end.lastSeq,
      lastHash: end.lastHash,
      confirmBy:
        lastDeadline?.type === 'confirm-pending' || lastDeadline?.type === 'deadline-moved'
          ? lastDeadline.deadline
          : undefined,
      rebuilt: why,
    };
  } catch (error) {
    if (error instanceof RunbookError && error.code === 'journal-damaged')
      return damagedIndex(runId, `${why.replace(/; it was rebuilt from its journal$/, '')}, and ${error.message}`);
    throw error;
  }
}

function damagedIndex(runId: string, damage: string, known?: RunIndex): RunIndex {
  return {
    id: runId,
    runbook: known?.runbook ?? '?',
    status: 'damaged',
    activity: known?.activity ?? 'run',
    started: known?.started ?? '?',
    finished: known?.finished,
    pid: 0,
    host: known?.host ?? { hostname: '?', netns: '?', sandbox: undefined },
    lastSeq: known?.lastSeq ?? 0,
    lastHash: known?.lastHash ?? '',
    damage,
  };
}

/** Every run in the state dir (with an index, a journal or both), oldest first (ids sort by start time). */
export function listRunIndexes(stateDir: string): RunIndex[] {
  if (!existsSync(runsDir(stateDir))) return [];
  const ids = new Set<string>();
  for (const f of readdirSync(runsDir(stateDir))) {
    const match = /^(.+)\.(json|ndjson)$/.exec(f);
    if (match !== null) ids.add(match[1] as string);
  }
  return [...ids]
    .sort()
    .map((id) => readRunIndex(stateDir, id))
    .filter((index): index is RunIndex => index !== undefined);
}

/**
 * The run as `runs` shows it: its index, unless its journal does not hold together — a line
 * that does not parse, a broken hash chain, entries removed from the end — in which case it is
 * `damaged`, with the reason (issue 22). The index alone is a summary written beside the
 * journal: a journal edited since would otherwise still show as `succeeded`. A run that
 * recorded nothing yet (its first entry not written) is shown as its index says.
 */
export function withVerifiedJournal(stateDir: string, index: RunIndex): RunIndex {
  if (index.status === 'damaged' || index.lastSeq === 0) return index;
  try {
    const journal = readJournal(journalFile(stateDir, index.id));
    const problem = verifyJournal(journal, index);
    if (problem === undefined) return index;
    return damagedIndex(index.id, `its journal is damaged at entry ${problem.line}: ${problem.reason}`, index);
  } catch (error) {
    if (error instanceof RunbookError && error.code === 'journal-damaged')
      return damagedIndex(index.id, error.message, index);
    // A journal in a format this version does not know is not damage: shown as its index says.
    if (error instanceof RunbookError && error.code === 'journal-version') return index;
    throw error;
  }
}

/**
 * A run recorded as running whose process no longer exists stopped without updating its index:
 * killed mid-run (interrupted), or killed between writing its last journal entry and the index.
 * The journal, which is always ahead of the index, says which.
 */
function withLiveStatus(stateDir: string, index: RunIndex): RunIndex {
  const gone = goneReason({ pid: index.pid, startTime: index.pidStartTime, bootId: index.bootId });
  if (index.status !== 'running' || gone === undefined) return index;
  try {
    return { ...index, status: statusFromEnd(readJournal(journalFile(stateDir, index.id))) };
  } catch (error) {
    if (error instanceof RunbookError && error.code === 'journal-damaged')
      return damagedIndex(index.id, error.message, index);
    throw error;
  }
}
