import type { ReplacedRun } from '../journal/entries.js';
import type { Plan, PlannedCommand, PlannedStep } from '../plan/plan.js';
import { stepsInEffect, type RunHistory } from './run-history.js';

/**
 * What re-applying a runbook with new values does to the runs of it still in effect (issue 23),
 * as a pure comparison of plans: the earlier run's recorded plan and journal against the new
 * plan. Like Terraform's plan (create / replace / destroy) and sqitch's rework (revert, then
 * deploy again), but step by step, from what each run recorded.
 *
 * The rule: walking the earlier run's steps in order, the steps whose rendered commands are the
 * same in the new plan (in the same order) are kept, up to the first that changed or is gone.
 * From there on, every step the earlier run changed is undone, newest first, and the new run
 * does it again with the new values: a later step may stand on an earlier one that changed (the
 * route via the old gateway on the old address), so nothing after a change is trusted as kept.
 * The steps kept are handed over to the new run, which answers for them from then on: its
 * rollback undoes them too, so that one rollback leaves the host as before the first run.
 *
 * A step without `do` (a ping, a check) changes nothing: it is never undone and never cuts.
 */

/** One earlier run, as its journal recorded it: the plan it started with and what it did. */
export interface EarlierRun {
  runId: string;
  plan: Plan;
  history: Pick<RunHistory, 'changedSteps' | 'cutOffSteps' | 'undoneSteps' | 'captures' | 'exports'>;
}

/**
 * What happens to a step: kept as the earlier run left it; replaced (its commands changed: the
 * old one undone, the new one done); redone (the same commands, after a step that changed:
 * undone and done again); new (no earlier run has it); gone (no longer in the runbook: undone).
 */
export type StepAction = 'keep' | 'replace' | 'redo' | 'new' | 'gone';

/** The commands of a step that differ between the earlier run and the new plan. */
export interface CommandsChange {
  /** The first phase whose commands differ: do, verify, undo, requires or capture. */
  phase: string;
  before: ReadonlyArray<readonly string[]>;
  after: ReadonlyArray<readonly string[]>;
}

export interface StepChange {
  stepId: string;
  title: string;
  action: StepAction;
  /** Whether the earlier run's change of this step is undone (it made it, and it is not kept). */
  undone: boolean;
  /** The earlier run this step is compared with (undefined for a new step). */
  runId: string | undefined;
  /** For a replaced step: what changed. */
  change?: CommandsChange | undefined;
  /** A step without `do`: it checks, changes nothing, and is never undone. */
  checkOnly: boolean;
}

export interface Replacement {
  /** Per earlier run (newest first): what is undone of it, what is handed over. */
  runs: ReplacedRun[];
  /** Every step of the new plan, in order, then the steps that are gone. */
  steps: StepChange[];
}

/** The phases of a step whose commands make it what it is on the host (not its title or probes). */
const phases = ['do', 'verify', 'undo', 'requires', 'capture'] as const;

/**
 * A step's rendered commands, as a key: equal keys mean the step does the same thing. Titles,
 * explanations and diagnose probes (read-only) are left out; JSON with sorted keys, so that a
 * plan read back from a journal compares equal to the same plan rendered now.
 */
export function stepKey(step: PlannedStep): string {
  const { id: _id, title: _title, why: _why, diagnose: _diagnose, ...rest } = step;
  return canonicalJson(rest);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Whether a step can change the host at all. */
function changesHost(step: PlannedStep): boolean {
  return step.do.length > 0;
}

/** The undo commands of a step, as keys: two steps that undo alike act on the same object. */
/**
 * The "same step" rule, across runbooks and step ids: steps are the same when they undo alike
 * (`ip netns del container1`). later-runs.ts matches a later run's steps to a run's by it too.
 */
export function undoKeys(step: PlannedStep | undefined): string[] {
  return (step?.undo ?? []).map((command) => JSON.stringify(command.argv));
}

/**
 * Whether the new plan is about the same objects as what `run` still has in effect: a step of
 * each that undoes alike (`ip netns del container1`), as later-runs.ts matches steps. A run of
 * the runbook for other objects altogether (container=web9, veth9, ceth9, another subnet) is
 * another instance of it, not something to replace.
 */
export function sharesObjects(run: EarlierRun, plan: Plan): boolean {
  const byId = new Map(run.plan.steps.map((s) => [s.id, s]));
  const theirs = new Set(stepsInEffect(run.history).flatMap((id) => undoKeys(byId.get(id))));
  return plan.steps.some((step) => undoKeys(step).some((key) => theirs.has(key)));
}

/** Whether the new plan does exactly what the earlier run's plan does (nothing to replace). */
export function samePlan(run: EarlierRun, plan: Plan): boolean {
  return (
    run.plan.steps.length === plan.steps.length &&
    run.plan.steps.every((step, i) => {
      const other = plan.steps[i];
      return other !== undefined && other.id === step.id && stepKey(other) === stepKey(step);
    })
  );
}

/** The earlier run's steps before the first (that changes the host) that is not kept, in order. */
function stepsBeforeCut(run: EarlierRun, plan: Plan): PlannedStep[] {
  const newIndex = new Map(plan.steps.map((step, i) => [step.id, i]));
  const newKeys = new Map(plan.steps.map((step) => [step.id, stepKey(step)]));
  const before: PlannedStep[] = [];
  let last = -1;
  for (const step of run.plan.steps) {
    if (changesHost(step)) {
      const at = newIndex.get(step.id);
      if (at === undefined || at < last || newKeys.get(step.id) !== stepKey(step)) break;
      last = at;
    }
    before.push(step);
  }
  return before;
}

/** What replacing `run` with the new plan undoes of it, and what the new run takes over. */
export function replaceRun(run: EarlierRun, plan: Plan): ReplacedRun {
  const beforeCut = stepsBeforeCut(run, plan);
  const kept = new Set(beforeCut.filter((step) => changesHost(step)).map((step) => step.id));
  const unchanged = new Set(beforeCut.map((step) => step.id));
  const inEffect = stepsInEffect(run.history);
  const cutOff = new Set(run.history.cutOffSteps);
  // What the steps before the cut exported: the kept steps that use it need it for their undo.
  const exported = [...run.history.exports]
    .filter(([step]) => unchanged.has(step))
    .map(([step, v]) => [step, { ...v }]);
  return {
    runId: run.runId,
    undo: inEffect.filter((id) => !kept.has(id)).reverse(),
    takeOver: inEffect
      .filter((id) => kept.has(id))
      .map((step) => ({ step, captures: { ...run.history.captures.get(step) }, cutOff: cutOff.has(step) })),
    ...(exported.length > 0 && { exports: Object.fromEntries(exported) }),
  };
}

/**
 * The replacement of `runs` (the runs of the runbook in effect that the new plan replaces,
 * newest first) by the new plan: per run what is undone and handed over, and per step what
 * happens to it.
 */
export function planReplacement(runs: readonly EarlierRun[], plan: Plan): Replacement {
  const replaced = runs.map((run) => replaceRun(run, plan));
  const undone = new Set(replaced.flatMap((r) => r.undo));
  // Each step is compared with the newest run that has it.
  const earlierStep = (id: string): { run: EarlierRun; step: PlannedStep } | undefined => {
    for (const run of runs) {
      const step = run.plan.steps.find((s) => s.id === id);
      if (step !== undefined) return { run, step };
    }
    return undefined;
  };
  const steps: StepChange[] = plan.steps.map((step) => {
    const earlier = earlierStep(step.id);
    const checkOnly = !changesHost(step);
    if (earlier === undefined)
      return { stepId: step.id, title: step.title, action: 'new', undone: false, runId: undefined, checkOnly };
    const same = stepKey(earlier.step) === stepKey(step);
    const isUndone = undone.has(step.id);
    const action: StepAction = !same ? 'replace' : isUndone ? 'redo' : 'keep';
    return {
      stepId: step.id,
      title: step.title,
      action,
      undone: isUndone,
      runId: earlier.run.runId,
      ...(action === 'replace' && { change: commandsChange(earlier.step, step) }),
      checkOnly,
    };
  });
  const inNew = new Set(plan.steps.map((s) => s.id));
  const seen = new Set<string>();
  for (const run of runs) {
    for (const step of run.plan.steps) {
      if (inNew.has(step.id) || seen.has(step.id)) continue;
      seen.add(step.id);
      steps.push({
        stepId: step.id,
        title: step.title,
        action: 'gone',
        undone: undone.has(step.id),
        runId: run.runId,
        checkOnly: !changesHost(step),
      });
    }
  }
  return { runs: replaced, steps };
}

/** The first phase whose commands differ, with its commands before and after. */
function commandsChange(before: PlannedStep, after: PlannedStep): CommandsChange {
  const argvs = (commands: readonly PlannedCommand[]) => commands.map((c) => c.argv);
  for (const phase of phases) {
    const a = before[phase] as readonly PlannedCommand[];
    const b = after[phase] as readonly PlannedCommand[];
    if (canonicalJson(a) !== canonicalJson(b)) return { phase, before: argvs(a), after: argvs(b) };
  }
  // Something else differs (only_if_created_by, undo: none): the do commands say what the step is.
  return { phase: 'do', before: argvs(before.do), after: argvs(after.do) };
}
