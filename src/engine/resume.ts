import { invalidInput } from '../errors.js';
import { commandsOf, requirePrograms } from '../host/preflight.js';
import type { Executor } from '../exec/types.js';
import type { RunIndex, RunStore } from '../store/run-store.js';
import type { CommandEvent } from './journaled-command.js';
import { continueRun, selectRun, withChangeLocks, type Nothing } from './recorded-run.js';
import { executeAndRecord, type StepReport, type StepsResult } from './execute-steps.js';
import { advice, runbookCommand } from '../suggestion.js';
import { finishReplacing, recordReplaceStopped, type ReplaceOutcome } from './replace.js';
import type { UndoReport } from './undo-steps.js';
import type { FindOwners } from './foreign-contents.js';

export interface ResumeOptions {
  store: RunStore;
  runId: string | undefined;
  executor: Executor;
  /** Accept a runbook file that changed since the run started (the recorded text is used). */
  force?: boolean | undefined;
  /** Stop again after this step (`resume --until`): the tutorial, stage by stage, in one run. */
  stopAfter?: string | undefined;
  signal?: AbortSignal | undefined;
  onStep?: ((report: StepReport) => void) | undefined;
  onCommand?: ((event: CommandEvent) => void) | undefined;
  onNote?: ((note: string) => void) | undefined;
  /**
   * The hash (`LoadedRunbook.hash`) of the runbook file as it is now, includes and all, or
   * undefined if it is gone or does not load: given by the caller, which reads runbook files
   * (the engine reads nothing by path): src/runbook/load.ts's `runbookHashNow`.
   */
  currentRunbookHash: (file: string) => string | undefined;
  /** Each step of a replaced run undone, when the resume finishes a replace (issue 23). */
  onReplaceUndo?: ((runId: string, report: UndoReport) => void) | undefined;
  /** Names the runs that made what a container to be deleted holds (rollback.ts's findOwners). */
  findOwners?: FindOwners | undefined;
}

export type ResumeResult =
  Nothing | ({ kind: 'resumed'; runId: string; runbook: string; replaced: ReplaceOutcome | undefined } & StepsResult);

const resumable: ReadonlySet<RunIndex['status']> = new Set(['interrupted', 'failed', 'stopped']);

/**
 * `runbook resume`: continues a run from its journal. Steps the journal shows finished are not
 * run again; the step in flight when the run stopped starts over with its check, since a
 * command whose result never reached the journal may or may not have taken effect.
 */
export async function resumeRun(options: ResumeOptions): Promise<ResumeResult> {
  return withChangeLocks(options.store, 'resume', options.executor, options.onNote, () => resumeWhileLocked(options));
}

/**
 * The resume itself, for a caller that holds the state dir's lock and the host's already (the
 * CNI plugin's ADD, which finishes a network run a killed ADD left: src/cni/add.ts).
 */
export async function resumeWhileLocked(options: ResumeOptions): Promise<ResumeResult> {
  const { store } = options;
  const run = selectRun({
    store,
    runId: options.runId,
    verb: 'resume',
    eligible: (index) => resumable.has(index.status),
    noneMessage: 'nothing to resume: no interrupted, failed or stopped run',
    refuse: (index) => (resumable.has(index.status) ? undefined : `is ${index.status}`),
    onNote: options.onNote,
  });
  if (run.kind === 'nothing') return run;
  const runId = run.index.id;
  if (run.history.replacedBy !== undefined) {
    throw invalidInput(
      `run ${runId} is being replaced by run ${run.history.replacedBy} (the same runbook with other values); resuming it would redo what that undid`,
      advice`finish the replace with: ${runbookCommand('resume', run.history.replacedBy)}`,
    );
  }
  if (run.history.rollbackStarted) {
    throw invalidInput(
      `run ${runId} was being rolled back; resuming it would redo what the rollback undid`,
      advice`finish the rollback with: ${runbookCommand('rollback', runId)}`,
    );
  }
  const until = options.stopAfter;
  if (until !== undefined) {
    const ids = run.plan.steps.map((s) => s.id);
    if (!ids.includes(until))
      throw invalidInput(`--until ${until}: run ${runId} has no such step`, `its steps: ${ids.join(', ')}`);
    if (run.history.finishedSteps.includes(until))
      throw invalidInput(
        `--until ${until}: run ${runId} is past that step already; nothing was changed`,
        `resume without --until, or name a step still to do: ${ids.filter((id) => !run.history.finishedSteps.includes(id)).join(', ')}`,
      );
  }
  const { runbookFile, runbookHash } = run.history.start;
  const currentHash = options.currentRunbookHash(runbookFile);
  const notes = [checkRunbookUnchanged(runbookFile, runbookHash, currentHash, runId, options.force)];
  if (run.journal.tornTail !== undefined) notes.push('the last journal line was torn by a crash and was cut off');
  for (const note of notes) if (note !== undefined) options.onNote?.(note);

  requirePrograms(options.executor, run.plan.steps.flatMap(commandsOf), `resuming run ${runId}`);
  const note = notes.filter(Boolean).join('; ') || undefined;
  const { replaces } = run.history;
  return continueRun(store, run, 'resume', note, async (journal) => {
    // A replace this run had not finished (killed while undoing an earlier run's steps, or an
    // undo that failed) is finished first: the journals say how far it got (issue 23).
    const replaced =
      replaces !== undefined && !run.history.replaceFinished
        ? await finishReplacing({
            store,
            runId,
            journal,
            replaces,
            executor: options.executor,
            signal: options.signal,
            onUndo: options.onReplaceUndo,
            onCommand: options.onCommand,
            onNote: options.onNote,
            findOwners: options.findOwners,
          })
        : undefined;
    if (replaced !== undefined && replaced.status !== 'replaced') {
      const stopped = recordReplaceStopped(journal, replaced);
      return { kind: 'resumed' as const, runId, runbook: run.index.runbook, ...stopped, replaced };
    }
    const result = await executeAndRecord(journal, {
      plan: run.plan,
      executor: options.executor,
      signal: options.signal,
      finishedSteps: run.history.finishedSteps,
      changedEarlier: run.history.changedSteps,
      skippedSteps: run.history.skippedSteps,
      exported: run.history.exports,
      stopAfter: until,
      onStep: options.onStep,
      onCommand: options.onCommand,
    });
    return { kind: 'resumed' as const, runId, runbook: run.index.runbook, ...result, replaced };
  });
}

/**
 * Resume runs the runbook text recorded at the start; if the file has changed since, the user
 * may be expecting the new version, so refuse unless --force says the recorded one is meant.
 */
function checkRunbookUnchanged(
  file: string,
  recordedHash: string,
  currentHash: string | undefined,
  runId: string,
  force: boolean | undefined,
): string | undefined {
  if (currentHash === recordedHash) return undefined;
  const what =
    currentHash === undefined
      ? `${file} no longer exists or no longer loads`
      : `${file} (or a runbook it includes) has changed since run ${runId} started`;
  if (!force) {
    throw invalidInput(
      `${what}; nothing was changed`,
      advice`resume with the runbook as it was recorded: ${runbookCommand('resume', runId, '--force')} (or start a new run)`,
    );
  }
  return `${what}; --force: resuming with the runbook text recorded when the run started`;
}
