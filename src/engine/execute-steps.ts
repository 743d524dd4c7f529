import { createActor } from 'xstate';
import type { RunJournal } from '../journal/run-journal.js';
import type { StepOutcome } from '../journal/entries.js';
import type { Plan, PlannedStep } from '../runbook/plan.js';
import { InterruptedError, type CommandContext } from './journaled-command.js';
import { buildRunMachine, RunEnd, type RunContext, type StepFinishedParams, type StepParams } from './machine.js';
import { createPhaseActors, type FailedCheck, type Finding, type PhaseRecorder } from './phases.js';

export interface StepReport {
  stepId: string;
  title: string;
  outcome: StepOutcome;
  durationMs: number;
  doFailed: boolean;
  /** `do` did not run: a `requires` check did not hold. */
  refused?: true;
}

export interface StepFailure {
  stepId: string;
  title: string;
  check: FailedCheck | undefined;
  findings: Finding[];
}

export interface StepsResult {
  status: 'succeeded' | 'failed' | 'stopped' | 'interrupted';
  steps: StepReport[];
  failure: StepFailure | undefined;
}

export interface ExecuteStepsOptions extends CommandContext {
  plan: Plan;
  /** Steps finished by an earlier attempt of the same run (resume): not run again. */
  finishedSteps?: readonly string[];
  /** `--until`: stop after this step. */
  stopAfter?: string | undefined;
  onStep?: ((report: StepReport) => void) | undefined;
}

/**
 * Runs a plan's steps through the statechart: creates the machine, supplies the phase
 * implementations and the journaling of step boundaries, and waits for a final state.
 * Run-level bookkeeping (run-start / run-end entries, lock, index) is the caller's.
 */
export async function executeSteps(options: ExecuteStepsOptions): Promise<StepsResult> {
  const { plan, journal } = options;
  const steps = new Map<string, PlannedStep>(plan.steps.map((s) => [s.id, s]));
  const recorder: PhaseRecorder = { lastFailedCheck: new Map(), findings: new Map() };
  const reports: StepReport[] = [];
  const indexOf = new Map(plan.steps.map((s, i) => [s.id, i]));
  const finishedEarlier = new Set(options.finishedSteps);
  let stepStartedAt = 0;

  const machine = buildRunMachine(plan, {
    actors: createPhaseActors(steps, options, recorder),
    actions: {
      stepEntered: (_args: unknown, params: StepParams) => {
        stepStartedAt = performance.now();
        if (!finishedEarlier.has(params.stepId)) {
          const index = indexOf.get(params.stepId) ?? -1;
          journal.append({
            type: 'step-start',
            step: params.stepId,
            index,
            title: steps.get(params.stepId)?.title ?? '',
          });
        }
      },
      stepFinished: ({ context }: { context: RunContext }, params: StepFinishedParams) => {
        const refused = recorder.lastFailedCheck.get(params.stepId)?.refused === true;
        const report: StepReport = {
          stepId: params.stepId,
          title: steps.get(params.stepId)?.title ?? '',
          outcome: params.outcome,
          durationMs: Math.round(performance.now() - stepStartedAt),
          doFailed: context.doFailed && !refused,
          ...(refused ? { refused: true as const } : {}),
        };
        if (params.outcome !== 'skipped') {
          journal.append({
            type: 'step-end',
            step: params.stepId,
            outcome: params.outcome,
            durationMs: report.durationMs,
            doFailed: report.doFailed,
          });
        }
        reports.push(report);
        options.onStep?.(report);
      },
    },
  });

  const actor = createActor(machine, {
    input: { finishedSteps: options.finishedSteps ?? [], stopAfter: options.stopAfter },
  });
  const final = await new Promise<{ value: string; context: RunContext }>((resolve, reject) => {
    actor.subscribe({
      complete: () => {
        const snapshot = actor.getSnapshot();
        resolve({ value: snapshot.value as string, context: snapshot.context as RunContext });
      },
      error: reject,
    });
    actor.start();
    actor.send({ type: 'start' });
  });

  switch (final.value) {
    case RunEnd.succeeded:
      return { status: 'succeeded', steps: reports, failure: undefined };
    case RunEnd.stopped:
      return { status: 'stopped', steps: reports, failure: undefined };
    case RunEnd.failed: {
      const stepId = final.context.failedStep as string;
      return {
        status: 'failed',
        steps: reports,
        failure: {
          stepId,
          title: steps.get(stepId)?.title ?? '',
          check: recorder.lastFailedCheck.get(stepId),
          findings: recorder.findings.get(stepId) ?? [],
        },
      };
    }
    default:
      if (final.context.error instanceof InterruptedError)
        return { status: 'interrupted', steps: reports, failure: undefined };
      throw final.context.error;
  }
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
    message:
      result.failure === undefined ? undefined : (result.failure.findings[0]?.cause ?? result.failure.check?.reason),
  });
  return result;
}

/** Best effort: the journal may be what failed. */
function tryAppend(journal: RunJournal, entry: Parameters<RunJournal['append']>[0]): void {
  try {
    journal.append(entry);
  } catch {
    // nothing more can be recorded; the run shows as interrupted
  }
}
