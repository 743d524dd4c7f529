import type { RunJournal } from '../journal/run-journal.js';
import type { Plan } from '../plan/plan.js';
import type { CommandContext } from './journaled-command.js';
import { buildRunMachine, type StepReport, type StepsResult } from './machine.js';
import { createPhaseActors } from './phases.js';
import { driveWalk } from './walk-machine.js';

export type { StepFailure, StepReport, StepsResult } from './machine.js';

export interface ExecuteStepsOptions extends CommandContext {
  plan: Plan;
  /** Steps finished by an earlier attempt of the same run (resume): not run again. */
  finishedSteps?: readonly string[];
  /** Steps an earlier attempt of the same run changed (RunHistory.changedSteps): created by this run. */
  changedEarlier?: readonly string[];
  /** Of the finished steps, those an earlier attempt skipped by their `when:` (issue 28). */
  skippedSteps?: readonly string[];
  /** Values earlier attempts exported, from the journal (RunHistory.exports, issue 28). */
  exported?: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** `--until`: stop after this step. */
  stopAfter?: string | undefined;
  onStep?: ((report: StepReport) => void) | undefined;
}

/**
 * Runs a plan's steps through the statechart: creates the machine, supplies the phase
 * implementations and the journaling of step boundaries, and returns the machine's output.
 * Run-level bookkeeping (run-start / run-end entries, lock, index) is the caller's.
 */
export async function executeSteps(options: ExecuteStepsOptions): Promise<StepsResult> {
  const { plan, journal } = options;
  const steps = new Map(plan.steps.map((s, index) => [s.id, { step: s, index }]));
  const finishedEarlier = new Set(options.finishedSteps);

  const machine = buildRunMachine(plan, {
    actors: createPhaseActors(new Map(plan.steps.map((s) => [s.id, s])), options, options.changedEarlier),
    actions: {
      stepEntered: (_args, { stepId }) => {
        if (finishedEarlier.has(stepId)) return;
        const planned = steps.get(stepId);
        journal.append({
          type: 'step-start',
          step: stepId,
          index: planned?.index ?? -1,
          title: planned?.step.title ?? '',
        });
      },
      // The machine has appended the step's report: journal it (a skipped step was journaled
      // by the attempt that finished it) and show it.
      stepFinished: ({ context }) => {
        const report = context.steps.at(-1);
        if (report === undefined) return;
        // A step skipped by its `when:` is journaled with the reason (issue 28).
        if (report.outcome !== 'skipped' || report.skipReason !== undefined) {
          journal.append({
            type: 'step-end',
            step: report.stepId,
            outcome: report.outcome,
            durationMs: report.durationMs,
            doFailed: report.doFailed,
            ...(report.skipReason !== undefined && { reason: report.skipReason }),
          });
        }
        options.onStep?.(report);
      },
    },
  });

  return driveWalk(machine, {
    finishedSteps: options.finishedSteps ?? [],
    skippedSteps: options.skippedSteps ?? [],
    exported: options.exported ?? new Map(),
    stopAfter: options.stopAfter,
  });
}

/**
 * Runs the steps of a run (a first attempt or a resume) and records how the attempt ended.
 * If the engine itself fails (a journal write, say), the run-end entry records that too, so
 * that the journal never ends mid-run for a reason it does not state.
 */
export async function executeAndRecord(
  journal: RunJournal,
  options: Omit<ExecuteStepsOptions, 'journal'>,
): Promise<StepsResult> {
  let result: StepsResult;
  try {
    result = await executeSteps({ ...options, journal });
  } catch (error) {
    tryAppend(journal, {
      type: 'run-end',
      status: 'interrupted',
      failedStep: undefined,
      message: `internal error: ${error instanceof Error ? error.message : String(error)}`,
    });
    throw error;
  }
  journal.append({
    type: 'run-end',
    status: result.status,
    failedStep: result.failure?.stepId,
    message: result.failure === undefined ? undefined : failureMessage(result.failure),
  });
  return result;
}

/** The run-end's message: the cause the probes named, or the check's reason; and who undid it (final pass). */
function failureMessage(failure: NonNullable<StepsResult['failure']>): string | undefined {
  const what = failure.findings[0]?.cause ?? failure.check?.reason;
  const undoneBy = failure.undoneBy;
  if (undoneBy === undefined) return what;
  const who =
    undoneBy.length === 1
      ? `step ${undoneBy[0]?.stepId} undid it`
      : `one of the steps that changed the host after it undid it: ${undoneBy.map((s) => s.stepId).join(', ')}`;
  const cause = failure.findings[0]?.cause;
  return `${cause === undefined ? (what ?? 'no longer holds at the end of the run') : `no longer holds at the end of the run: ${cause}`}; ${who}`;
}

/** Best effort: the journal may be what failed. */
function tryAppend(journal: RunJournal, entry: Parameters<RunJournal['append']>[0]): void {
  try {
    journal.append(entry);
  } catch {
    // nothing more can be recorded; the run shows as interrupted
  }
}
