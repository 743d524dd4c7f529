import { existsSync, readFileSync } from 'node:fs';
import { RunbookError } from '../errors.js';
import { assertSameHost, isOneShotRun, isThisHost } from '../host/binding.js';
import { currentUser } from '../host/identity.js';
import type { AttemptStartEntry } from '../journal/entries.js';
import { findRun } from '../journal/find-run.js';
import { acquireLock } from '../journal/lock.js';
import { journalFile } from '../journal/paths.js';
import { readJournal, verifyJournal, type ReadJournal } from '../journal/reader.js';
import { listRunIndexes, type RunIndex } from '../journal/run-index.js';
import { RunJournal } from '../journal/run-journal.js';
import type { Plan } from '../runbook/plan.js';
import { readRunHistory, type RunHistory } from './run-history.js';

/**
 * What resume and rollback share: the prologue that finds a recorded run, checks it may be
 * acted on, and reopens its journal for a new attempt. Like sqitch's engine, both read the
 * registry (the journal), never the runbook as it is now, to know what to do.
 */

/** A run as its journal recorded it, ready to be resumed or rolled back. */
export interface RecordedRun {
  kind: 'run';
  index: RunIndex;
  journal: ReadJournal;
  history: RunHistory;
  /** The plan recorded when the run started (the runbook text and parameters, rendered). */
  plan: Plan;
}

/** Why there is nothing to act on: a message for the user, exit 0. */
export interface Nothing {
  kind: 'nothing';
  message: string;
}

/** Runs `work` holding the state dir's lock; a stale lock taken over is reported through `onNote`. */
export async function withStateLock<T>(
  stateDir: string,
  command: string,
  onNote: ((note: string) => void) | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const lock = acquireLock(stateDir, command);
  try {
    if (lock.takeoverNote !== undefined) onNote?.(lock.takeoverNote);
    return await work();
  } finally {
    lock.release();
  }
}

/**
 * The default target of resume and rollback: the latest eligible run made on this host. Only
 * when there is none is a run of another host (a sandbox, say) picked, so that the refusal
 * names where it belongs; never a one-shot --sandbox run, whose host is gone (naming it by id
 * says so).
 */
export function defaultTarget(stateDir: string, eligible: (index: RunIndex) => boolean): RunIndex | undefined {
  const candidates = listRunIndexes(stateDir)
    .reverse()
    .filter((r) => !recordedNothing(stateDir, r) && eligible(r));
  return candidates.find((r) => isThisHost(r.host)) ?? candidates.find((r) => !isOneShotRun(r.host));
}

export interface SelectRunOptions {
  stateDir: string;
  /** A run id or unique prefix; undefined for the default target. */
  runId: string | undefined;
  /** "resume" or "roll back", for messages. */
  verb: string;
  /** Whether a run is a default target at all. */
  eligible: (index: RunIndex) => boolean;
  /** When there is no default target. */
  noneMessage: string;
  /** Why a run named by id cannot be acted on (e.g. "already rolled back"), or undefined. */
  refuse: (index: RunIndex) => string | undefined;
}

/**
 * Finds the run to act on (by id, or the default target), and opens it: its journal must be
 * intact and this process on the run's host. Returns "nothing" (exit 0) when there is nothing
 * to do, with a message saying why.
 */
export function selectRun(options: SelectRunOptions): RecordedRun | Nothing {
  const { stateDir } = options;
  const index =
    options.runId === undefined ? defaultTarget(stateDir, options.eligible) : findRun(stateDir, options.runId);
  if (index === undefined) return { kind: 'nothing', message: options.noneMessage };
  const refusal = options.refuse(index);
  if (refusal !== undefined)
    return { kind: 'nothing', message: `nothing to ${options.verb}: run ${index.id} ${refusal}` };
  if (recordedNothing(stateDir, index)) {
    return {
      kind: 'nothing',
      message: `nothing to ${options.verb}: run ${index.id} stopped before recording anything, so it changed nothing`,
    };
  }
  return openRecordedRun(stateDir, index);
}

/**
 * Reopens a recorded run's journal for a new attempt, records the attempt's start, runs `work`
 * and closes the journal whatever happens.
 */
export async function continueRun<T>(
  stateDir: string,
  run: RecordedRun,
  kind: AttemptStartEntry['kind'],
  note: string | undefined,
  work: (journal: RunJournal) => Promise<T>,
): Promise<T> {
  const journal = RunJournal.reopen(stateDir, run.index.id, run.journal);
  try {
    journal.append({ type: 'attempt-start', kind, pid: process.pid, user: currentUser(), note });
    return await work(journal);
  } finally {
    journal.close();
  }
}

/**
 * True for a run killed before its first journal entry was complete: it has an index but no
 * plan, and it changed nothing (its first command comes after several entries).
 */
export function recordedNothing(stateDir: string, index: RunIndex): boolean {
  const file = journalFile(stateDir, index.id);
  // A complete entry ends with a newline; no need to parse the journal to know there is one
  // (the caller then reads and verifies it anyway).
  return !existsSync(file) || !readFileSync(file).includes(0x0a);
}

/**
 * Opens a recorded run for a command that will act on it: the journal must be intact (hash
 * chain and index agree), and this process must be on the host the run changed.
 */
export function openRecordedRun(stateDir: string, index: RunIndex): RecordedRun {
  const journal = readJournal(journalFile(stateDir, index.id));
  const problem = verifyJournal(journal, index);
  if (problem !== undefined) {
    throw new RunbookError(
      'journal-damaged',
      `the journal of run ${index.id} is damaged at entry ${problem.line}: ${problem.reason}; refusing to act on it`,
      {
        hint: `inspect it with: runbook journal ${index.id} --verify`,
      },
    );
  }
  const history = readRunHistory(journal.lines);
  assertSameHost(index.id, history.start.host);
  // The plan recorded at the start, not the runbook file as it is now: resume and rollback act
  // on what the run started with.
  return { kind: 'run', index, journal, history, plan: history.start.plan };
}
