import { RunbookError } from '../errors.js';
import { advice, runbookCommand } from '../suggestion.js';
import { commandsOf, missingPrograms, namedPrograms } from '../host/preflight.js';
import type { Executor } from '../exec/types.js';
import type { ReplacedRun } from '../journal/entries.js';
import { MemoryJournal } from '../journal/sink.js';
import type { ParamValues } from '../runbook/params.js';
import type { Plan } from '../plan/plan.js';
import type { RunStore } from '../store/run-store.js';
import type { CommandEvent } from './journaled-command.js';
import { checkPreconditions, type FailedPrecondition } from './preconditions.js';
import type { RecordedRun } from './recorded-run.js';
import { refuseIfBuiltOn, replacementOf, runsToReplace, undoesAnything } from './replace.js';
import type { Replacement, StepChange } from './replacement.js';

/**
 * `runbook plan` (issue 23): what a run of a runbook with these values would do on this host,
 * before it changes anything — per step kept, new, replaced, redone or gone, compared with the
 * runs of it still in effect here, and the preconditions about the host that would refuse it.
 * `run` makes the same assessment, under its locks, before its first change.
 */

/** What is known before a run changes anything: what it replaces, what would refuse it. */
export interface Assessment {
  /** The runs it replaces, newest first (replace.ts). */
  earlier: RecordedRun[];
  replacement: Replacement | undefined;
  /** What the run would record in its run-start, when it replaces anything. */
  replaces: readonly ReplacedRun[] | undefined;
  /** Preconditions about the host as found that do not hold (preconditions.ts). */
  failures: FailedPrecondition[];
  /** Programs the runbook's commands need that are not installed. */
  missing: string[];
  /** Why the replace cannot go ahead (a later run of another runbook builds on what it undoes). */
  blocked: RunbookError | undefined;
}

export interface AssessOptions {
  store: RunStore;
  runbook: string;
  plan: Plan;
  executor: Executor;
  signal?: AbortSignal | undefined;
  onCommand?: ((event: CommandEvent) => void) | undefined;
  onNote?: ((note: string) => void) | undefined;
}

/** Compares the plan with the runs in effect, and checks the preconditions (read-only). */
export async function assessChanges(options: AssessOptions): Promise<Assessment> {
  const { store, plan } = options;
  const earlier = runsToReplace(store, options.runbook, plan, options.onNote);
  const replacement = replacementOf(earlier, plan);
  const replaces = replacement?.runs;
  let blocked: RunbookError | undefined;
  if (replaces !== undefined) {
    try {
      refuseIfBuiltOn(store, replaces, new Set(earlier.map((r) => r.index.id)));
    } catch (error) {
      if (!(error instanceof RunbookError)) throw error;
      blocked = error;
    }
  }
  // A step the replace undoes and does again may find what the earlier run made in its way
  // (its own route in the subnet): its preconditions are checked when it runs, after the undo.
  const redone = new Set(replacement?.steps.filter((s) => s.undone).map((s) => s.stepId));
  const failures = await checkPreconditions({
    steps: plan.steps,
    skip: redone,
    executor: options.executor,
    journal: new MemoryJournal(),
    signal: options.signal,
    onCommand: options.onCommand,
  });
  const missing = missingPrograms(options.executor, plan.steps.flatMap(commandsOf));
  return { earlier, replacement, replaces, failures, missing, blocked };
}

/** An earlier run a plan replaces, as `plan` shows it. */
export interface ReplacedRunPlan {
  runId: string;
  status: string;
  params: Record<string, string>;
  /** Its steps undone, newest first. */
  undo: string[];
  /** Its steps the new run takes over. */
  takeOver: string[];
}

/** What `runbook plan` prints (and `--json` gives): the changes and what would refuse them. */
export interface ChangePlan {
  runbook: string;
  params: ParamValues;
  replaces: ReplacedRunPlan[];
  steps: StepChange[];
  /** A run would undo steps of an earlier run: `run` needs --replace. */
  needsReplace: boolean;
  preconditions: FailedPrecondition[];
  /** Missing programs, each with the Debian package that has it. */
  missingPrograms: string[];
  blocked: string | undefined;
  /** Whether a run would be refused (a precondition, a missing program, a later run in the way). */
  wouldRefuse: boolean;
}

/** The assessment as a plan for people and programs. */
export function changePlanOf(plan: Plan, assessment: Assessment): ChangePlan {
  const byId = new Map(assessment.earlier.map((run) => [run.index.id, run]));
  const replaces = (assessment.replacement?.runs ?? []).map((replaced) => {
    const run = byId.get(replaced.runId);
    return {
      runId: replaced.runId,
      status: run?.index.status ?? '?',
      params: { ...run?.history.start.params },
      undo: [...replaced.undo],
      takeOver: replaced.takeOver.map((t) => t.step),
    };
  });
  const steps =
    assessment.replacement?.steps ??
    plan.steps.map((step) => ({
      stepId: step.id,
      title: step.title,
      action: 'new' as const,
      undone: false,
      runId: undefined,
      checkOnly: step.do.length === 0,
    }));
  return {
    runbook: plan.runbook,
    params: plan.params,
    replaces,
    steps,
    needsReplace: undoesAnything(assessment.replacement),
    preconditions: assessment.failures,
    missingPrograms: namedPrograms(assessment.missing),
    blocked: assessment.blocked?.message,
    wouldRefuse: assessment.failures.length > 0 || assessment.missing.length > 0 || assessment.blocked !== undefined,
  };
}

/** `runbook plan`: the assessment, read-only (no lock: it changes nothing, and says so). */
export async function planChanges(options: AssessOptions): Promise<ChangePlan> {
  return changePlanOf(options.plan, await assessChanges(options));
}

/**
 * `run` without --replace while a run with other values is in effect and the new values would
 * undo some of its steps (exit 2, nothing changed): the plan says what --replace would do.
 */
export class ReplaceNeeded extends RunbookError {
  constructor(readonly plan: ChangePlan) {
    const runs = plan.replaces.filter((r) => r.undo.length > 0);
    const undo = runs.flatMap((r) => r.undo);
    super(
      'replace-needed',
      `${runs.length === 1 ? `run ${runs[0]?.runId} of ${plan.runbook}, with other values, is` : `${runs.length} runs of ${plan.runbook}, with other values, are`} ` +
        `in effect on this host: the new values would undo ${undo.length} of its steps (${undo.join(', ')}) and do them again; nothing was changed`,
      {
        hint: advice`the plan above says what would change; to replace it, run again with --replace (${runbookCommand('plan', plan.runbook)} with the same --set shows it again)`,
      },
    );
    this.name = 'ReplaceNeeded';
  }
}
