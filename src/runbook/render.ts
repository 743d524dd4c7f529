import { invalidInput } from '../errors.js';
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
import {
  stepIdPattern,
  type CaptureSpec,
  type CheckSpec,
  type CommandSpec,
  type ExpectSpec,
  type LoopSpec,
  type StepSpec,
} from './schema.js';
import { probeKeeper } from './shared-probes.js';
import { placeholdersIn, renderDeep, renderTemplate, TemplateError, type Scope } from './template.js';

type ProbeKeeper = ReturnType<typeof probeKeeper>;

/**
 * Substitutes parameters into every command of the runbook and unrolls its loops: a pure
 * function. Each step of a loop gets the id "<id>-<value>" (or its own id template rendered),
 * stable across runs, so that the journal of a run and its resume name the same steps.
 */
export function renderPlan(runbook: ResolvedRunbook, params: ParamValues): Plan {
  try {
    const steps: PlannedStep[] = [];
    // Identical probes are kept once as they are rendered (shared-probes.ts).
    const keep = probeKeeper();
    for (const item of runbook.steps) expandItem(item, params, [], steps, keep);
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
    checkConstraints(runbook.name, runbook.constraints ?? [], params);
    return { runbook: runbook.name, description: runbook.description, params, steps };
  } catch (error) {
    if (error instanceof TemplateError) throw invalidInput(`runbook ${runbook.name}: ${error.message}`);
    throw error;
  }
}

/** Renders a step, or expands a loop (at any depth) into its steps, in order. */
function expandItem(
  item: StepSpec | LoopSpec,
  scope: Scope,
  suffixes: readonly string[],
  out: PlannedStep[],
  keep: ProbeKeeper,
): void {
  if (!('foreach' in item)) {
    const createdBy = (item.only_if_created_by ?? []).map((written) => stepId(written, scope, suffixes));
    out.push(renderStep(item, scope, stepId(item.id, scope, suffixes), createdBy, keep));
    return;
  }
  const { foreach } = item;
  for (const { value, index, suffix } of loopValues(foreach, scope)) {
    const inner: Record<string, string> = { ...scope, [foreach.var]: value };
    if (foreach.index !== undefined) inner[foreach.index] = String(index);
    for (const step of item.steps) expandItem(step, inner, [...suffixes, suffix], out, keep);
  }
}

/** The values a loop takes: whole numbers from..to, or the items of a list (suffix: the index). */
function loopValues(
  foreach: LoopSpec['foreach'],
  scope: Scope,
): Array<{ value: string; index: number; suffix: string }> {
  if (foreach.in === undefined) {
    const from = loopBound(foreach.from ?? 0, scope, 'from');
    const to = loopBound(foreach.to ?? -1, scope, 'to');
    const values = [];
    for (let n = from; n <= to; n++) values.push({ value: String(n), index: n - from + 1, suffix: String(n) });
    return values;
  }
  const items = Array.isArray(foreach.in)
    ? foreach.in.map((item) => renderTemplate(String(item), scope))
    : splitList(renderTemplate(foreach.in, scope));
  return items.map((value, i) => ({ value, index: i + 1, suffix: String(i + 1) }));
}

/** A list parameter's value: its items joined with "," ("" is the empty list). */
function splitList(text: string): string[] {
  return text === '' ? [] : text.split(',');
}

function loopBound(bound: number | string, scope: Scope, which: string): number {
  const text = renderTemplate(String(bound), scope);
  if (!/^-?\d+$/.test(text)) throw invalidInput(`foreach.${which} is "${text}", not a whole number`);
  return Number(text);
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
  keep: ProbeKeeper,
): PlannedStep {
  // Captured values are known only at run time: do gets this attempt's values just before it
  // runs, undo those the journal recorded first (rollback).
  const hasCaptures = Object.keys(step.capture).length > 0;
  const command = (spec: CommandSpec, partial = false): PlannedCommand => {
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
    const path = readPath(renderTemplate(spec.read, scope));
    return { argv: ['read', path], read: path, timeoutMs: timeoutOf(spec.timeout) };
  };
  const renderCheck = (check: CheckSpec): PlannedCheck => ({
    ...runOrRead(check),
    expect: renderDeep(check.expect ?? { exit: 0 }, scope) as ExpectSpec,
    ...retry(check),
  });
  const noUndo = Array.isArray(step.undo) ? undefined : step.undo.none;
  return {
    id,
    title: renderTemplate(step.title, scope),
    why: renderTemplate(step.why, scope),
    requires: step.requires.map((check) => renderCheck(check)),
    ...(onlyIfCreatedBy.length > 0 && { onlyIfCreatedBy }),
    capture: Object.entries(step.capture).map(([name, spec]) => capture(name, spec)),
    do: step.do.map((spec) => command(spec, hasCaptures)),
    verify: step.verify.map((check) => renderCheck(check)),
    undo: Array.isArray(step.undo) ? step.undo.map((spec) => command(spec, hasCaptures)) : [],
    ...(noUndo !== undefined && { noUndo: renderTemplate(noUndo, scope) }),
    // Only the probes that concern this step (by its id in the runbook, so every copy a loop
    // makes is concerned alike).
    diagnose: step.diagnose
      .filter((probe) => probe.concerns === undefined || probe.concerns.includes(step.id))
      .map((probe) =>
        keep({
          ...runOrRead(probe),
          when: renderDeep(probe.when, scope) as ExpectSpec,
          cause: renderTemplate(probe.cause, scope),
          fix: probe.fix === undefined ? undefined : renderTemplate(probe.fix, scope),
          ...retry(probe),
          independent: probe.concerns !== undefined,
        }),
      ),
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
