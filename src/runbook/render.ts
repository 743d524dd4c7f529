import type { ParamValues } from './params.js';
import type { Plan, PlannedCommand } from './plan.js';
import { defaultTimeoutMs } from './plan.js';
import type { CommandSpec, ExpectSpec, RunbookSpec } from './schema.js';
import { renderDeep, renderTemplate } from './template.js';

/** Substitutes parameters into every command of the runbook: a pure function. */
export function renderPlan(runbook: RunbookSpec, params: ParamValues): Plan {
  const argv = (args: readonly string[]) => args.map((arg) => renderTemplate(arg, params));
  const timeout = (seconds: number | undefined) => (seconds === undefined ? defaultTimeoutMs : Math.round(seconds * 1000));
  const command = (spec: CommandSpec): PlannedCommand =>
    Array.isArray(spec)
      ? { argv: argv(spec), timeoutMs: defaultTimeoutMs }
      : { argv: argv(spec.run), timeoutMs: timeout(spec.timeout) };

  return {
    runbook: runbook.name,
    description: runbook.description,
    params,
    steps: runbook.steps.map((step) => ({
      id: step.id,
      title: renderTemplate(step.title, params),
      why: renderTemplate(step.why, params),
      do: step.do.map(command),
      undo: step.undo.map(command),
      verify: step.verify.map((check) => ({
        argv: argv(check.run),
        timeoutMs: timeout(check.timeout),
        expect: renderDeep(check.expect ?? { exit: 0 }, params) as ExpectSpec,
      })),
      diagnose: step.diagnose.map((probe) => ({
        argv: argv(probe.run),
        timeoutMs: timeout(probe.timeout),
        when: renderDeep(probe.when, params) as ExpectSpec,
        cause: renderTemplate(probe.cause, params),
        fix: probe.fix === undefined ? undefined : renderTemplate(probe.fix, params),
      })),
    })),
  };
}
