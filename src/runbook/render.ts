import { invalidInput } from '../errors.js';
import type { ResolvedRunbook } from './load.js';
import type { ParamValues } from './params.js';
import { defaultTimeoutMs, type Plan, type PlannedCheck, type PlannedCommand, type PlannedStep } from './plan.js';
import type { CheckSpec, CommandSpec, ExpectSpec, StepSpec } from './schema.js';
import { renderDeep, renderTemplate, TemplateError, type Scope } from './template.js';

/**
 * Substitutes parameters into every command of the runbook and unrolls its loops: a pure
 * function. Each step of a loop gets the id "<id>-<value>", stable across runs, so that the
 * journal of a run and its resume name the same steps.
 */
export function renderPlan(runbook: ResolvedRunbook, params: ParamValues): Plan {
  try {
    const steps: PlannedStep[] = [];
    for (const item of runbook.steps) {
      if (!('foreach' in item)) {
        steps.push(renderStep(item, params, item.id));
        continue;
      }
      const from = loopBound(item.foreach.from, params, 'from');
      const to = loopBound(item.foreach.to, params, 'to');
      for (let n = from; n <= to; n++) {
        const scope = { ...params, [item.foreach.var]: String(n) };
        for (const step of item.steps) steps.push(renderStep(step, scope, `${step.id}-${n}`));
      }
    }
    const seen = new Set<string>();
    for (const step of steps) {
      if (seen.has(step.id)) throw invalidInput(`runbook ${runbook.name}: two steps have the id "${step.id}"`);
      seen.add(step.id);
    }
    return { runbook: runbook.name, description: runbook.description, params, steps };
  } catch (error) {
    if (error instanceof TemplateError) throw invalidInput(`runbook ${runbook.name}: ${error.message}`);
    throw error;
  }
}

function loopBound(bound: number | string, params: ParamValues, which: string): number {
  const text = renderTemplate(String(bound), params);
  if (!/^-?\d+$/.test(text)) throw invalidInput(`foreach.${which} is "${text}", not a whole number`);
  return Number(text);
}

function renderStep(step: StepSpec, scope: Scope, id: string): PlannedStep {
  const captureNames = Object.keys(step.capture);
  const command = (spec: CommandSpec, partial = false): PlannedCommand => {
    const args = Array.isArray(spec) ? spec : spec.run;
    const timeoutMs =
      Array.isArray(spec) || spec.timeout === undefined ? defaultTimeoutMs : Math.round(spec.timeout * 1000);
    return { argv: args.map((arg) => renderTemplate(arg, scope, partial)), timeoutMs };
  };
  const renderCheck = (check: CheckSpec): PlannedCheck => ({
    ...command({ run: check.run, timeout: check.timeout }),
    expect: renderDeep(check.expect ?? { exit: 0 }, scope) as ExpectSpec,
  });
  return {
    id,
    title: renderTemplate(step.title, scope),
    why: renderTemplate(step.why, scope),
    requires: step.requires.map((check) => renderCheck(check)),
    capture: Object.entries(step.capture).map(([name, spec]) => ({ name, ...command(spec) })),
    do: step.do.map((spec) => command(spec)),
    // Captured values are only known at run time: rollback substitutes them from the journal.
    undo: step.undo.map((spec) => command(spec, captureNames.length > 0)),
    verify: step.verify.map((check) => renderCheck(check)),
    diagnose: step.diagnose.map((probe) => ({
      ...command({ run: probe.run, timeout: probe.timeout }),
      when: renderDeep(probe.when, scope) as ExpectSpec,
      cause: renderTemplate(probe.cause, scope),
      fix: probe.fix === undefined ? undefined : renderTemplate(probe.fix, scope),
    })),
  };
}
