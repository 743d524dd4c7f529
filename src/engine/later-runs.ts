import { invalidInput, RunbookError } from '../errors.js';
import { isThisHost } from '../host/binding.js';
import type { JournalLine } from '../journal/entries.js';
import { advice, runbookCommand, type Advice } from '../suggestion.js';
import type { RunIndex, RunStore } from '../store/run-store.js';
import { hasChangesLeft } from './changes-left.js';
import { openRecordedRun, type RecordedRun } from './recorded-run.js';
import { undoKeys } from './replacement.js';
import { readRunHistory, stepsInEffect } from './run-history.js';

/**
 * Changes stack up, so they are undone in reverse order (issue 11), as sqitch reverts and
 * terraform destroys: a run that found in place ("ok") or made a step after an earlier run made
 * it, and built something of its own, stands on that run. Rolling the earlier one back first
 * would delete what the later one stands on — a new run that adopted the namespace a crashed
 * run left and made the rest in it, say — and leave the later run recorded "succeeded" with
 * its setup gone. So rollback refuses, naming the later runs, unless they are rolled back first
 * or `--force` is given.
 *
 * "The same step" is matched by what undoing it runs: a later run's step is the same as one
 * this rollback would undo when the two share an undo command (the same argv, as rendered, with
 * any {{capture}} placeholders). That finds the same object across runbooks and step ids
 * (single-container's `namespace` and multi-container's `namespace-1` both undo with
 * `ip netns del container1`; container-internet includes multi-container's steps), and never
 * mistakes the same runbook run with other parameters (`--set container=web9`), whose ids are
 * the same but whose objects are not. A later run that changed nothing (a re-run that found
 * everything in place) has nothing of its own to lose: it does not count.
 */

/** A later run that relies on steps a rollback is about to undo. */
export interface LaterRun {
  index: RunIndex;
  /** Of the steps to undo, those it found in place or made (ids as in the run rolled back). */
  steps: string[];
}

/** Runs undone already: they rely on nothing. */
const undone: ReadonlySet<RunIndex['status']> = new Set(['rolled-back', 'reverted', 'damaged']);

/**
 * The runs of this host in `store`, other than `run` and those in `alongWith` (being rolled
 * back in the same command), with changes of their own left, that found in place or made (or
 * started a `do` of) one of `steps` of `run` after `run` started. Oldest first.
 */
export function laterRunsBuiltOn(
  store: RunStore,
  run: RecordedRun,
  steps: readonly string[],
  alongWith: ReadonlySet<string> = new Set(),
): LaterRun[] {
  const stepsById = new Map(run.plan.steps.map((step) => [step.id, step]));
  const undoing = new Map<string, string>(); // undo command → the step of `run` that runs it
  for (const id of steps) for (const key of undoKeys(stepsById.get(id))) undoing.set(key, id);
  if (undoing.size === 0) return [];
  const since = run.journal.lines[0]?.time ?? run.index.started;
  const later: LaterRun[] = [];
  for (const index of store.listRuns()) {
    if (index.id === run.index.id || alongWith.has(index.id) || undone.has(index.status)) continue;
    if (!isThisHost(index.host)) continue;
    // A damaged later run cannot be read; like everywhere else, it does not block the others
    // (runs and rollback name it with a note when it is the target).
    let lines: JournalLine[];
    let history: ReturnType<typeof readRunHistory>;
    try {
      if (!hasChangesLeft(store, index)) continue;
      lines = store.readJournal(index.id).lines;
      history = readRunHistory(lines);
    } catch (error) {
      if (error instanceof RunbookError && error.code === 'journal-damaged') continue;
      throw error;
    }
    const itsSteps = new Map(history.start.plan.steps.map((step) => [step.id, step]));
    const itsUndone = new Set(history.undoneSteps);
    const found = new Set<string>();
    for (const line of lines) {
      if (line.time <= since) continue;
      const relies =
        (line.type === 'step-end' && (line.outcome === 'ok' || line.outcome === 'changed')) ||
        (line.type === 'command-start' && line.phase === 'do');
      if (!relies || itsUndone.has(line.step)) continue;
      for (const key of undoKeys(itsSteps.get(line.step))) {
        const same = undoing.get(key);
        if (same !== undefined) found.add(same);
      }
    }
    if (found.size > 0) later.push({ index, steps: steps.filter((id) => found.has(id)) });
  }
  return later;
}

/**
 * Of `later`, the runs that `run` builds on in turn: `run` resumed (or run again) after they
 * started, finding their steps in place. Neither can then be rolled back before the other, and
 * "roll back the later run first" would point each at the other (issue 26): the refusal names
 * the cycle instead, and the command that undoes them together.
 */
export function buildingOnEachOther(store: RunStore, run: RecordedRun, later: readonly LaterRun[]): LaterRun[] {
  return later.filter(({ index }) => {
    try {
      const other = openRecordedRun(store, index);
      return laterRunsBuiltOn(store, other, stepsInEffect(other.history)).some((l) => l.index.id === run.index.id);
    } catch (error) {
      // A run that cannot be opened here (damaged, another host) is named as a later run, as before.
      if (error instanceof RunbookError) return false;
      throw error;
    }
  });
}

/** The refusal: which later runs rely on what, and what to do (exit 2, nothing changed). */
export function builtOnError(
  runId: string,
  later: readonly LaterRun[],
  eachOther: readonly LaterRun[] = [],
): RunbookError {
  if (eachOther.length > 0) return cycleError(runId, later, eachOther);
  const newestFirst = [...later].reverse();
  const which = newestFirst
    .map(({ index, steps }) => `${index.id} (${index.runbook}, ${index.status}: ${shortList(steps)})`)
    .join('; ');
  const first: Advice = newestFirst.flatMap(({ index }, i) => [
    ...(i === 0 ? [] : [', then ']),
    runbookCommand('rollback', index.id),
  ]);
  const one = later.length === 1;
  return invalidInput(
    `refusing to roll back run ${runId}: ${one ? 'a later run builds' : `${later.length} later runs build`} on it, ` +
      `having found in place or made steps this rollback would undo: ${which}; nothing was changed`,
    [
      ...advice`changes are undone in reverse order: roll back the later run${one ? '' : 's'} first (`,
      ...first,
      `), or pass --force to roll back run ${runId} anyway (taking those steps away from under ${one ? 'it' : 'them'})`,
    ],
  );
}

/** Runs that build on each other: rolled back together, newest first, by `rollback --all`. */
function cycleError(runId: string, later: readonly LaterRun[], eachOther: readonly LaterRun[]): RunbookError {
  const others = eachOther.map(({ index }) => index.id);
  const which = later
    .map(({ index, steps }) => `${index.id} (${index.runbook}, ${index.status}: ${shortList(steps)})`)
    .join('; ');
  return invalidInput(
    `refusing to roll back run ${runId}: it and run${others.length === 1 ? '' : 's'} ${others.join(', ')} build on each other ` +
      `(each found in place steps the other made, as a run resumed after a later run started does), so neither can be ` +
      `rolled back before the other; later runs that build on ${runId}: ${which}; nothing was changed`,
    advice`roll them back together, newest first, with ${runbookCommand('rollback', '--all')} (every run on this host with changes left), or pass --force to roll back run ${runId} alone anyway`,
  );
}

/** "a, b, c and 9 more": a run that built on a whole runbook would otherwise fill the screen. */
function shortList(ids: readonly string[]): string {
  return ids.length <= 4 ? ids.join(', ') : `${ids.slice(0, 3).join(', ')} and ${ids.length - 3} more`;
}
