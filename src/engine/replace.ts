import { invalidInput, RunbookError } from '../errors.js';
import { advice, runbookCommand, type Advice } from '../suggestion.js';
import { isThisHost } from '../host/binding.js';
import type { ReplacedRun } from '../journal/entries.js';
import type { Plan } from '../plan/plan.js';
import type { RunJournal, RunStore } from '../store/run-store.js';
import { hasChangesLeft } from './changes-left.js';
import type { CommandEvent } from './journaled-command.js';
import { laterRunsBuiltOn, type LaterRun } from './later-runs.js';
import { openRecordedRun, type RecordedRun } from './recorded-run.js';
import { planReplacement, samePlan, sharesObjects, type EarlierRun, type Replacement } from './replacement.js';
import { rollbackWhileLocked } from './rollback.js';
import type { FindOwners } from './foreign-contents.js';
import type { UndoReport } from './undo-steps.js';
import type { StepsResult } from './execute-steps.js';
import type { Executor } from '../exec/types.js';

/**
 * Replace, then apply (issue 23): a run of a runbook whose values differ from a run of it still
 * in effect on this host replaces that run. The earlier run's steps from the first that changed
 * are undone in its own journal, newest first, through rollback's own undo (the same checks that
 * the effect is gone, the same "already gone counts as undone", the same refusal when a later
 * run of another runbook builds on them); the steps the new values keep are handed over to the
 * new run. Journaled on both sides, so that a kill at any point is finished by `resume`:
 *
 *   new run:     run-start (with the runs it replaces, what it undoes, what it takes over)
 *   earlier run: attempt-start (replace), rollback-start, step-undone…, rollback-end, replaced
 *   new run:     replace-end, then its steps as any run
 *
 * The pure comparison is replacement.ts; the runs it applies to are found here.
 */

/** An earlier run as the comparison needs it. */
export function asEarlierRun(run: RecordedRun): EarlierRun {
  return { runId: run.index.id, plan: run.plan, history: run.history };
}

/**
 * The runs of `runbook` in effect on this host that a run of `plan` replaces, newest first:
 * runs with changes left, about the same objects (replacement.ts's sharesObjects), whose plan
 * differs. A run of the same values is not replaced (a re-run finds its steps in place), nor
 * one of other objects (another instance), nor one awaiting confirmation that the new values
 * only add to (the new run joins it). A run that cannot be replaced now is refused (exit 2):
 * one awaiting confirmation that the new values would undo steps of, one half-way through a
 * rollback or a replace.
 */
export function runsToReplace(
  store: RunStore,
  runbook: string,
  plan: Plan,
  onNote?: (note: string) => void,
): RecordedRun[] {
  const found: RecordedRun[] = [];
  for (const index of store.listRuns().reverse()) {
    if (index.runbook !== runbook || !isThisHost(index.host)) continue;
    if (index.status === 'rolled-back' || index.status === 'reverted' || index.status === 'replaced') continue;
    let run: RecordedRun;
    try {
      if (index.status === 'damaged')
        throw new RunbookError('journal-damaged', `run ${index.id} is damaged: ${index.damage}`);
      if (!hasChangesLeft(store, index)) continue;
      run = openRecordedRun(store, index);
    } catch (error) {
      // As everywhere else, one damaged run does not block commands about the others: named, left alone.
      if (!(error instanceof RunbookError && error.code === 'journal-damaged')) throw error;
      onNote?.(`run ${index.id} of ${runbook} cannot be read (${error.message}): it is left alone, not replaced`);
      continue;
    }
    const earlier = asEarlierRun(run);
    if (!sharesObjects(earlier, plan) || samePlan(earlier, plan)) continue;
    // A run awaiting confirmation of which nothing would be undone (the new values only add
    // steps) is not replaced: the new run finds its steps in place and, with --confirm-within,
    // joins it (issue 24): one deadline, kept or reverted together.
    if (run.index.status === 'awaiting-confirmation' && !undoesAnything(planReplacement([earlier], plan))) continue;
    refuseUnreplaceable(run);
    found.push(run);
  }
  return found;
}

/** A run in a state no replace may start from: awaiting confirmation, or half-way through an undo. */
function refuseUnreplaceable(run: RecordedRun): void {
  const id = run.index.id;
  const { history } = run;
  if (run.index.status === 'awaiting-confirmation')
    throw invalidInput(
      `run ${id} of ${run.index.runbook}, with other values, awaits confirmation (--confirm-within); nothing was changed`,
      advice`confirm it (${runbookCommand('confirm', id)}) or roll it back (${runbookCommand('rollback', id)}) first`,
    );
  if (history.replaces !== undefined && !history.replaceFinished)
    throw invalidInput(
      `run ${id} of ${run.index.runbook} was replacing earlier runs and did not finish; nothing was changed`,
      advice`finish it first: ${runbookCommand('resume', id)} (or undo it: ${runbookCommand('rollback', id)})`,
    );
  if (history.replacedBy !== undefined)
    throw invalidInput(
      `run ${id} of ${run.index.runbook} is being replaced by run ${history.replacedBy}, which did not finish; nothing was changed`,
      advice`finish that first: ${runbookCommand('resume', history.replacedBy)}`,
    );
  if (history.rollbackStarted && !history.rollbackFinished)
    throw invalidInput(
      `run ${id} of ${run.index.runbook} was being rolled back and the rollback did not finish; nothing was changed`,
      advice`finish it first: ${runbookCommand('rollback', id)}`,
    );
}

/** The replacement of `runs` by `plan` (replacement.ts), or undefined when there is none. */
export function replacementOf(runs: readonly RecordedRun[], plan: Plan): Replacement | undefined {
  return runs.length === 0 ? undefined : planReplacement(runs.map(asEarlierRun), plan);
}

/** Whether a replacement undoes anything (else it only takes steps over: nothing to ask). */
export function undoesAnything(replacement: Replacement | undefined): boolean {
  return replacement?.runs.some((r) => r.undo.length > 0) === true;
}

/**
 * Refuses (exit 2, nothing changed) a replace that would undo steps a later run of another
 * runbook builds on (container-internet on multi-container's bridge), as rollback does.
 * `alongWith`: the runs replaced together, and the replacing run itself.
 */
export function refuseIfBuiltOn(
  store: RunStore,
  replaces: readonly ReplacedRun[],
  alongWith: ReadonlySet<string>,
): void {
  for (const replaced of replaces) {
    if (replaced.undo.length === 0) continue;
    const index = store.readRun(replaced.runId);
    if (index === undefined) continue;
    const run = openRecordedRun(store, index);
    const undone = new Set(run.history.undoneSteps);
    const left = replaced.undo.filter((id) => !undone.has(id));
    const later = laterRunsBuiltOn(store, run, left, alongWith);
    if (later.length > 0) throw builtOnError(replaced.runId, later);
  }
}

function builtOnError(runId: string, later: readonly LaterRun[]): RunbookError {
  const which = [...later]
    .reverse()
    .map(({ index, steps }) => `${index.id} (${index.runbook}: ${steps.join(', ')})`)
    .join('; ');
  const first: Advice = [...later]
    .reverse()
    .flatMap(({ index }, i) => [...(i === 0 ? [] : [', then ']), runbookCommand('rollback', index.id)]);
  return invalidInput(
    `refusing to replace run ${runId}: the steps it would undo are built on by ${later.length === 1 ? 'a later run' : `${later.length} later runs`}: ${which}; nothing was changed`,
    [`roll ${later.length === 1 ? 'it' : 'them'} back first (`, ...first, '), then run again'],
  );
}

export interface ReplaceOptions {
  store: RunStore;
  /** The replacing run, and its journal (its run-start says what it replaces). */
  runId: string;
  journal: RunJournal;
  replaces: readonly ReplacedRun[];
  executor: Executor;
  signal?: AbortSignal | undefined;
  onUndo?: ((runId: string, report: UndoReport) => void) | undefined;
  onCommand?: ((event: CommandEvent) => void) | undefined;
  onNote?: ((note: string) => void) | undefined;
  /** Names the runs that made what a container to be deleted holds (rollback.ts's findOwners). */
  findOwners?: FindOwners | undefined;
}

/** How a replace ended; `message` says which undo failed or where it stopped. */
export interface ReplaceOutcome {
  status: 'replaced' | 'failed' | 'interrupted';
  message: string | undefined;
  /** The undo of each earlier run, in the order done. */
  undone: Array<{ runId: string; steps: UndoReport[] }>;
}

/**
 * Undoes what differs of each replaced run and hands the rest over, finishing where an earlier
 * attempt stopped (a run already marked replaced is done; a half-done undo continues: its
 * journal says what is undone), then records the end in the replacing run's journal.
 */
export async function finishReplacing(options: ReplaceOptions): Promise<ReplaceOutcome> {
  const { store, journal, replaces } = options;
  refuseIfBuiltOn(store, replaces, new Set([options.runId, ...replaces.map((r) => r.runId)]));
  const undone: ReplaceOutcome['undone'] = [];
  for (const replaced of replaces) {
    const index = store.readRun(replaced.runId);
    if (index === undefined)
      throw new RunbookError('journal-damaged', `run ${replaced.runId}, which this run replaces, has no journal`);
    const run = openRecordedRun(store, index);
    if (run.history.replaced) continue;
    const result = await rollbackWhileLocked({
      store,
      runId: replaced.runId,
      opened: run,
      // Checked above, for every run replaced at once.
      force: true,
      executor: options.executor,
      signal: options.signal,
      onUndo: (report) => options.onUndo?.(replaced.runId, report),
      onCommand: options.onCommand,
      onNote: options.onNote,
      // The same guard as every rollback (issue 22): a container holding foreign things stays.
      findOwners: options.findOwners,
      replacing: {
        only: new Set(replaced.undo),
        by: options.runId,
        handOver: replaced.takeOver.map((t) => t.step),
      },
    });
    if (result.kind === 'nothing') continue;
    undone.push({ runId: replaced.runId, steps: result.steps });
    if (result.status !== 'rolled-back') {
      const failed = result.steps.find((s) => s.outcome === 'undo-failed');
      const message =
        result.status === 'interrupted'
          ? `interrupted while undoing run ${replaced.runId}'s steps that differ`
          : `undoing run ${replaced.runId}'s step ${failed?.stepId}: ${failed?.stillHolds}`;
      journal.append({ type: 'replace-end', status: result.status, message });
      return { status: result.status, message, undone };
    }
  }
  journal.append({ type: 'replace-end', status: 'replaced', message: undefined });
  return { status: 'replaced', message: undefined, undone };
}

/**
 * A replace that stopped before the run's own steps (an undo that left its effect, an
 * interrupt): the attempt ends there, failed or interrupted, and `resume` finishes the replace first.
 */
export function recordReplaceStopped(journal: RunJournal, replaced: ReplaceOutcome): StepsResult {
  const status = replaced.status === 'interrupted' ? 'interrupted' : 'failed';
  journal.append({ type: 'run-end', status, failedStep: undefined, message: replaced.message });
  return { status, steps: [], failure: undefined };
}
