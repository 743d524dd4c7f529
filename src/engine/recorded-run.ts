import { RunbookError } from '../errors.js';
import { assertSameHost, isOneShotRun, isThisHost } from '../host/binding.js';
import { currentUser } from '../host/identity.js';
import type { AttemptStartEntry } from '../journal/entries.js';
import type { Executor } from '../exec/types.js';
import type { Plan } from '../plan/plan.js';
import type { Lock, ReadJournal, RunIndex, RunJournal, RunStore } from '../store/run-store.js';
import { shareIdenticalProbes } from '../runbook/shared-probes.js';
import { readRunHistory, type RunHistory } from './run-history.js';
import { advice, runbookCommand } from '../suggestion.js';

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

/**
 * Runs `work` holding the state dir's lock only, for a command that does not change the host
 * (confirm); a stale lock taken over is reported through `onNote`.
 */
export async function withStateLock<T>(
  store: RunStore,
  command: string,
  onNote: ((note: string) => void) | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const lock = store.lock(command);
  try {
    if (lock.takeoverNote !== undefined) onNote?.(lock.takeoverNote);
    return await work();
  } finally {
    lock.release();
  }
}

/**
 * The locks of a command that runs steps' `do` or `undo` (run, resume, rollback, a revert):
 * the state dir's, then the host's, which `executor` keeps (src/host/host-lock.ts), so that
 * two runbook processes with different state dirs never change one host at once (issue 11).
 * Neither waits: whichever is taken fails the command with exit 3, nothing changed.
 */
export async function acquireChangeLocks(store: RunStore, command: string, executor: Executor): Promise<Lock> {
  const stateLock = store.lock(command);
  try {
    const hostLock = await executor.lockHost?.(command, store.dir);
    return {
      takeoverNote: stateLock.takeoverNote,
      release: () => {
        hostLock?.release();
        stateLock.release();
      },
    };
  } catch (error) {
    stateLock.release();
    throw error;
  }
}

/** Runs `work` holding the locks of a command that changes the host (acquireChangeLocks). */
export async function withChangeLocks<T>(
  store: RunStore,
  command: string,
  executor: Executor,
  onNote: ((note: string) => void) | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const locks = await acquireChangeLocks(store, command, executor);
  try {
    if (locks.takeoverNote !== undefined) onNote?.(locks.takeoverNote);
    return await work();
  } finally {
    locks.release();
  }
}

/**
 * The default target of resume and rollback: the latest eligible run made on this host. Only
 * when there is none is a run of another host (a sandbox, say) picked, so that the refusal
 * names where it belongs; never a one-shot --sandbox run, whose host is gone (naming it by id
 * says so). A damaged run is skipped, and `onNote` says so: one damaged run never blocks
 * commands about the others. But damage is never read as "nothing to do": when no other run is
 * a target, the damage of the newest damaged candidate is the answer (exit 1).
 */
export function defaultTarget(
  store: RunStore,
  eligible: (index: RunIndex) => boolean,
  onNote?: (note: string) => void,
): RunIndex | undefined {
  let otherHost: RunIndex | undefined;
  const skipped: Array<{ id: string; damage: RunbookError }> = [];
  const found = (run: RunIndex): RunIndex => {
    for (const { id, damage } of skipped) onNote?.(`skipped run ${id}: ${damage.message}`);
    return run;
  };
  for (const run of store.listRuns().reverse()) {
    try {
      if (run.status === 'damaged')
        throw new RunbookError('journal-damaged', `run ${run.id} is damaged: ${run.damage}; refusing to act on it`);
      if (recordedNothing(store, run) || !eligible(run)) continue;
      store.readIntactJournal(run);
    } catch (error) {
      if (!(error instanceof RunbookError && error.code === 'journal-damaged')) throw error;
      skipped.push({ id: run.id, damage: error });
      continue;
    }
    if (isThisHost(run.host)) return found(run);
    if (otherHost === undefined && !isOneShotRun(run.host)) otherHost = run;
  }
  if (otherHost !== undefined) return found(otherHost);
  if (skipped[0] !== undefined) throw skipped[0].damage;
  return undefined;
}

export interface SelectRunOptions {
  store: RunStore;
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
  /** Notes for the user: a damaged run skipped, an index rebuilt from its journal. */
  onNote?: ((note: string) => void) | undefined;
}

/**
 * Finds the run to act on (by id, or the default target), and opens it: its journal must be
 * intact and this process on the run's host. Returns "nothing" (exit 0) when there is nothing
 * to do, with a message saying why.
 */
export function selectRun(options: SelectRunOptions): RecordedRun | Nothing {
  const { store } = options;
  const index =
    options.runId === undefined ? defaultTarget(store, options.eligible, options.onNote) : store.findRun(options.runId);
  if (index === undefined) return { kind: 'nothing', message: options.noneMessage + vanishedRunNote(store, options) };
  if (index.status === 'damaged') {
    throw new RunbookError('journal-damaged', `run ${index.id} is damaged: ${index.damage}; refusing to act on it`, {
      hint: advice`inspect it with: ${runbookCommand('journal', index.id, '--verify')}`,
    });
  }
  if (index.rebuilt !== undefined) options.onNote?.(index.rebuilt);
  const refusal = options.refuse(index);
  if (refusal !== undefined)
    return { kind: 'nothing', message: `nothing to ${options.verb}: run ${index.id} ${refusal}` };
  if (recordedNothing(store, index)) {
    return {
      kind: 'nothing',
      message: `nothing to ${options.verb}: run ${index.id} stopped before recording anything, so it changed nothing`,
    };
  }
  return openRecordedRun(store, index);
}

/**
 * Why the newest run that would have been the target is not (issue 26): it ran in a one-shot
 * --sandbox host, gone with the command, so `runs` lists it as stopped or failed and yet
 * there is nothing to resume or roll back.
 */
function vanishedRunNote(store: RunStore, options: SelectRunOptions): string {
  const gone = store
    .listRuns()
    .reverse()
    .find((run) => run.status !== 'damaged' && isOneShotRun(run.host) && options.eligible(run));
  return gone === undefined
    ? ''
    : ` (run ${gone.id} is ${gone.status}, but it ran in a one-shot --sandbox host, which vanished with it: start a new run)`;
}

/**
 * Reopens a recorded run's journal for a new attempt, records the attempt's start, runs `work`
 * and closes the journal whatever happens.
 */
export async function continueRun<T>(
  store: RunStore,
  run: RecordedRun,
  kind: AttemptStartEntry['kind'],
  note: string | undefined,
  work: (journal: RunJournal) => Promise<T>,
): Promise<T> {
  const journal = store.reopenRun(run.index.id, run.journal);
  try {
    journal.append({ type: 'attempt-start', kind, pid: process.pid, user: currentUser(), note });
    return await work(journal);
  } finally {
    journal.close();
  }
}

/**
 * True for a run killed before its first journal entry was complete: its index was written
 * before that entry (it records none) and the journal holds no whole line. It changed nothing
 * (its first command comes after several entries). A journal shorter than its index says is
 * not this: it is damage, and opening the run says so.
 */
export function recordedNothing(store: RunStore, index: RunIndex): boolean {
  if (index.lastSeq > 0) return false;
  try {
    return store.readJournal(index.id).lines.length === 0;
  } catch (error) {
    if (error instanceof RunbookError && error.code === 'journal-damaged') return false; // opening says why
    throw error;
  }
}

/**
 * Opens a recorded run for a command that will act on it: the journal must be intact (hash
 * chain and index agree), and this process must be on the host the run changed.
 */
export function openRecordedRun(store: RunStore, index: RunIndex): RecordedRun {
  const journal = store.readIntactJournal(index);
  const history = readRunHistory(journal.lines);
  assertSameHost(index.id, history.start.host);
  // The plan recorded at the start, not the runbook file as it is now: resume and rollback act
  // on what the run started with.
  return { kind: 'run', index, journal, history, plan: shareIdenticalProbes(history.start.plan) };
}
