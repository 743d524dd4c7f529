import { invalidInput } from '../errors.js';
import { advice, runbookCommand } from '../suggestion.js';
import { checkConstraints } from './constraints.js';
import type { ResolvedRunbook } from './load.js';
import type { ParamValues } from './params.js';
import {
  defaultTimeoutMs,
  type Plan,
  type PlannedCheck,
  type PlannedCommand,
  type PlannedCondition,
  type PlannedStep,
} from '../plan/plan.js';
import { stepIdPattern } from './step-id.js';
import type { CaptureSpec, CheckSpec, CommandSpec, ExpectSpec, LoopSpec, ParamSpec, StepSpec } from './schema.js';
import { probeKeeper } from './shared-probes.js';
import { loopLength, loopValues, scopeOfPass, type Foreach } from './loop-values.js';
import { maxPlanChars, planLimits, raiseStepsHint, type PlanLimits } from './limits.js';
import {
  placeholdersIn,
  referencesIn,
  renderDeep,
  renderTemplate,
  stringsIn,
  TemplateError,
  withRenderBudget,
  type Scope,
} from './template.js';

type ProbeKeeper = ReturnType<typeof probeKeeper>;

/**
 * Substitutes parameters into every command of the runbook and unrolls its loops: a pure
 * function. Each step of a loop gets the id "<id>-<value>" (or its own id template rendered),
 * stable across runs, so that the journal of a run and its resume name the same steps.
 */
export function renderPlan(
  runbook: ResolvedRunbook,
  params: ParamValues,
  options: { shownAs?: string | undefined; limits?: PlanLimits | undefined } = {},
): Plan {
  try {
    // The size first, before anything is expanded (issue 22): a loop bound of 20000000 is
    // refused at once, not after minutes of rendering.
    checkPlanSize(runbook, params, options.limits ?? planLimits());
    // The facts about the values first: their messages say what each address is for.
    checkConstraints(runbook.name, runbook.constraints ?? [], params, runbook.parameters, options.shownAs);
    const steps: PlannedStep[] = [];
    // Identical probes are kept once as they are rendered (shared-probes.ts).
    const keep = probeKeeper();
    const context: ExpandContext = { out: steps, keep, parameters: runbook.parameters };
    const exported: Record<string, string> = {};
    withRenderBudget(maxPlanChars, () => {
      for (const item of runbook.steps) expandItem(item, params, [], exported, context);
    });
    const seen = new Set<string>();
    for (const step of steps) {
      if (seen.has(step.id)) throw invalidInput(`runbook ${runbook.name}: two steps have the id "${step.id}"`);
      for (const earlier of step.onlyIfCreatedBy ?? []) {
        if (!seen.has(earlier)) {
          throw invalidInput(
            `runbook ${runbook.name}: step "${step.id}" has only_if_created_by "${earlier}", which is not an earlier step`,
            'name a step that comes before it (in a loop, a step of the same loop, written without its suffix)',
          );
        }
      }
      seen.add(step.id);
    }
    return { runbook: runbook.name, description: runbook.description, params, steps };
  } catch (error) {
    if (error instanceof TemplateError) throw invalidInput(`runbook ${runbook.name}: ${error.message}`);
    throw error;
  }
}

/** What expanding the items needs besides the scope: where steps go, the probe keeper, the parameters. */
interface ExpandContext {
  out: PlannedStep[];
  keep: ProbeKeeper;
  parameters: Readonly<Record<string, ParamSpec>>;
}

/**
 * Renders a step, or expands a loop (at any depth) into its steps, in order. `exported` maps
 * each value an earlier step exports (issue 28) to that step's id: it grows as steps are
 * rendered, and a loop pass gets a copy of its own, so that a value exported inside a loop is
 * the one of the same pass, and unknown after the loop.
 */
function expandItem(
  item: StepSpec | LoopSpec,
  scope: Scope,
  suffixes: readonly string[],
  exported: Record<string, string>,
  context: ExpandContext,
): void {
  if (!('foreach' in item)) {
    const createdBy = (item.only_if_created_by ?? []).map((written) => stepId(written, scope, suffixes));
    const id = stepId(item.id, scope, suffixes);
    context.out.push(renderStep(item, scope, id, createdBy, importsOf(item, exported), context.keep));
    for (const name of Object.keys(item.export ?? {})) exported[name] = id;
    return;
  }
  const { foreach } = item;
  for (const pass of loopValues(foreach, scope, context.parameters)) {
    const inner = scopeOfPass(scope, foreach, pass);
    const passExports = { ...exported };
    for (const step of item.steps) expandItem(step, inner, [...suffixes, pass.suffix], passExports, context);
  }
}

/**
 * Refuses (exit 2) a plan that would expand to more steps, commands or loop iterations than
 * `limits`, counting without expanding: a range's length is worked out from its bounds, and the
 * count stops as soon as a limit is passed. The loops of constraints count as iterations too.
 * Issue 22.
 */
function checkPlanSize(runbook: ResolvedRunbook, params: ParamValues, limits: PlanLimits): void {
  const total = { steps: 0, commands: 0, iterations: 0 };
  const refuse = (what: string, loops: readonly string[]) =>
    invalidInput(
      `runbook ${runbook.name}: ${what}${loops.length === 0 ? '' : ` (in ${loops.join(', in ')})`}; nothing was run`,
      advice`check the values that set loop bounds and lists (${runbookCommand('show', runbook.name)} lists them); ${raiseStepsHint}`,
    );
  /** Counts a loop's passes, refusing one that would pass the limits on its own. */
  const passes = (foreach: Foreach, scope: Scope, loops: readonly string[]) => {
    const { length, written } = loopLength(foreach, scope, runbook.parameters);
    const here = [...loops, `foreach ${foreach.var} ${written}`];
    if (length > limits.steps || total.iterations + length > limits.iterations)
      throw refuse(
        `a loop of ${length.toLocaleString('en')} iterations, more than the ${limits.steps.toLocaleString('en')} steps a plan may have`,
        here,
      );
    total.iterations += length;
    return here;
  };
  const count = (items: ReadonlyArray<StepSpec | LoopSpec>, scope: Scope, loops: readonly string[]): void => {
    for (const item of items) {
      if (!('foreach' in item)) {
        total.steps += 1;
        total.commands += commandCount(item);
        if (total.steps > limits.steps)
          throw refuse(`more than ${limits.steps.toLocaleString('en')} steps once its loops are expanded`, loops);
        if (total.commands > limits.commands)
          throw refuse(
            `more than ${limits.commands.toLocaleString('en')} commands (do, verify, undo, probes…) once its loops and shared lists are expanded`,
            loops,
          );
        continue;
      }
      const { foreach } = item;
      const here = passes(foreach, scope, loops);
      for (const pass of loopValues(foreach, scope, runbook.parameters))
        count(item.steps, scopeOfPass(scope, foreach, pass), here);
    }
  };
  for (const constraint of runbook.constraints ?? [])
    if (constraint.foreach !== undefined) passes(constraint.foreach, params, ['a constraint']);
  count(runbook.steps, params, []);
}

/** The commands a step runs at most: every do, check, undo and probe it has. */
function commandCount(step: StepSpec): number {
  const undo = Array.isArray(step.undo) ? step.undo.length : 0;
  return (
    step.do.length +
    step.verify.length +
    undo +
    step.requires.length +
    Object.keys(step.capture).length +
    step.diagnose.length
  );
}

/** The exported values a step uses: name → the id of the step that exports it. */
function importsOf(step: StepSpec, exported: Readonly<Record<string, string>>): Record<string, string> {
  const imports: Record<string, string> = {};
  if (Object.keys(exported).length === 0) return imports;
  for (const text of stringsIn(step))
    for (const { name } of referencesIn(text)) {
      const from = exported[name];
      if (from !== undefined) imports[name] = from;
    }
  return imports;
}

/**
 * A step's id: written with placeholders, it is rendered as it stands (the author chose it);
 * written plain inside loops, each loop adds "-<value>" (ranges) or "-<index>" (lists).
 */
function stepId(written: string, scope: Scope, suffixes: readonly string[]): string {
  if (placeholdersIn(written).length === 0) return [written, ...suffixes].join('-');
  const id = renderTemplate(written, scope);
  if (!stepIdPattern.test(id)) {
    throw invalidInput(
      `step id "${written}" renders as "${id}", which is not a step id (lower-case letters, digits and dashes)`,
      "use the loop's index in the id (foreach: { …, index: i } and id: name-{{i}}), or leave the id plain",
    );
  }
  return id;
}

function renderStep(
  step: StepSpec,
  scope: Scope,
  id: string,
  onlyIfCreatedBy: readonly string[],
  imports: Readonly<Record<string, string>>,
  keep: ProbeKeeper,
): PlannedStep {
  // Captured and exported values are known only at run time: do gets this attempt's captures
  // just before it runs, undo those the journal recorded first (rollback), and every phase the
  // values earlier steps exported (from the journal on resume and rollback). Placeholders for
  // them stay in the plan (and in a cached plan), and are filled when the command runs.
  const exports = step.export ?? {};
  const runtime =
    Object.keys(step.capture).length > 0 || Object.keys(exports).length > 0 || Object.keys(imports).length > 0;
  const command = (spec: CommandSpec, partial = runtime): PlannedCommand => {
    if (Array.isArray(spec))
      return { argv: spec.map((arg) => renderTemplate(arg, scope, partial)), timeoutMs: defaultTimeoutMs };
    const condition = spec.if ?? spec.unless;
    return {
      argv: spec.run.map((arg) => renderTemplate(arg, scope, partial)),
      timeoutMs: timeoutOf(spec.timeout),
      ...(spec.stdin !== undefined && { stdin: renderTemplate(spec.stdin, scope, partial) }),
      ...(spec.ok_exit !== undefined && { okExit: spec.ok_exit }),
      ...(condition !== undefined && {
        condition: {
          argv: condition.run.map((arg) => renderTemplate(arg, scope, partial)),
          timeoutMs: timeoutOf(condition.timeout),
          ...(condition.stdin !== undefined && { stdin: renderTemplate(condition.stdin, scope, partial) }),
          expect: renderDeep(condition.expect ?? { exit: 0 }, scope, false, partial) as ExpectSpec,
          runWhenHolds: spec.if !== undefined,
        } satisfies PlannedCondition,
      }),
    };
  };
  const capture = (name: string, spec: CaptureSpec) => {
    if (Array.isArray(spec)) return { name, ...command(spec) };
    return {
      name,
      ...command({ run: spec.run, timeout: spec.timeout, ok_exit: spec.ok_exit }),
      ...(spec.json !== undefined && { json: spec.json }),
      ...(spec.regex !== undefined && { regex: spec.regex }),
      ...(spec.trim !== undefined && { trim: spec.trim }),
    };
  };
  const retry = (spec: { retries?: number | undefined; delay?: number | undefined }) => ({
    ...(spec.retries !== undefined && { retries: spec.retries }),
    ...(spec.delay !== undefined && { delayMs: Math.round(spec.delay * 1000) }),
  });
  // A check or probe runs its command, or reads its file (`read:`): then argv is the marker
  // ["read", path] that journals and messages show, and no program runs.
  const runOrRead = (spec: {
    run?: string[] | undefined;
    read?: string | undefined;
    timeout?: number | undefined;
    stdin?: string | undefined;
  }): PlannedCommand => {
    if (spec.read === undefined) return command({ run: spec.run ?? [], timeout: spec.timeout, stdin: spec.stdin });
    const rendered = renderTemplate(spec.read, scope, runtime);
    // A path with a value known only at run time is checked when it is filled in (step-values.ts).
    const path = rendered.includes('{{') ? rendered : readPath(rendered);
    return { argv: ['read', path], read: path, timeoutMs: timeoutOf(spec.timeout) };
  };
  const renderCheck = (check: CheckSpec): PlannedCheck => ({
    ...runOrRead(check),
    expect: renderDeep(check.expect ?? { exit: 0 }, scope, false, runtime) as ExpectSpec,
    ...retry(check),
  });
  const noUndo = Array.isArray(step.undo) ? undefined : step.undo.none;
  return {
    id,
    title: renderTemplate(step.title, scope),
    why: renderTemplate(step.why, scope),
    requires: step.requires.map((check) => ({
      ...renderCheck(check),
      ...(check.preflight === true && { preflight: true as const }),
      ...(check.cause !== undefined && { cause: renderTemplate(check.cause, scope) }),
      ...(check.fix !== undefined && { fix: renderTemplate(check.fix, scope) }),
    })),
    ...(onlyIfCreatedBy.length > 0 && { onlyIfCreatedBy }),
    ...(step.when !== undefined && {
      when: {
        ...command({ run: step.when.run, timeout: step.when.timeout, stdin: step.when.stdin }),
        expect: renderDeep(step.when.expect ?? { exit: 0 }, scope, false, runtime) as ExpectSpec,
      },
    }),
    capture: Object.entries(step.capture).map(([name, spec]) => capture(name, spec)),
    do: step.do.map((spec) => command(spec)),
    verify: step.verify.map((check) => renderCheck(check)),
    undo: Array.isArray(step.undo) ? step.undo.map((spec) => command(spec)) : [],
    ...(noUndo !== undefined && { noUndo: renderTemplate(noUndo, scope) }),
    // Only the probes that concern this step (by its id in the runbook, so every copy a loop
    // makes is concerned alike).
    diagnose: step.diagnose
      .filter((probe) => probe.concerns === undefined || probe.concerns.includes(step.id))
      .map((probe) =>
        keep({
          ...runOrRead(probe),
          when: renderDeep(probe.when, scope, false, runtime) as ExpectSpec,
          cause: renderTemplate(probe.cause, scope, runtime),
          fix: probe.fix === undefined ? undefined : renderTemplate(probe.fix, scope, runtime),
          ...retry(probe),
          independent: probe.concerns !== undefined,
        }),
      ),
    ...(Object.keys(exports).length > 0 && {
      export: Object.entries(exports).map(([name, spec]) => capture(name, spec)),
    }),
    ...(Object.keys(imports).length > 0 && { imports }),
  };
}

/**
 * A read's path once rendered: still absolute, and with no ".." (a parameter such as an
 * interface name cannot walk a /proc/sys/net/… read out of its directory).
 */
function readPath(path: string): string {
  if (!path.startsWith('/') || path.split('/').includes('..'))
    throw invalidInput(
      `read: "${path}" is not an absolute path without ".."`,
      'check the parameters the path is made of',
    );
  return path;
}

function timeoutOf(seconds: number | undefined): number {
  return seconds === undefined ? defaultTimeoutMs : Math.round(seconds * 1000);
}
