import { ExitCode } from '../../errors.js';
import { machineGraph, toMermaid, type PlanStepNote } from '../../engine/graph.js';
import { buildRunMachine } from '../../engine/machine.js';
import { currentHost } from '../../host/identity.js';
import { toShellLine } from '../../exec/shell-words.js';
import { defaultText } from '../../runbook/param-types.js';
import { prepareRunbook } from '../../runbook/prepare.js';
import type { CliContext } from '../context.js';

export interface GraphOptions {
  set: string[];
  /** mermaid or json; commander rejects anything else before this runs. */
  format: string;
}

/**
 * `runbook graph <runbook>`: the statechart `run` executes for this runbook, read from the
 * machine object itself (buildRunMachine), as Mermaid or JSON, with the plan's steps that the
 * run walks through in order. Runs nothing.
 */
export function graphCommand(ctx: CliContext, runbookName: string, options: GraphOptions): number {
  // Runs nothing, so a parameter with only a sandbox default takes it outside a sandbox too
  // (issue 28): the machine and the steps do not depend on which host it is.
  const { plan } = prepareRunbook(runbookName, options.set, {
    inSandbox: currentHost().sandbox !== undefined,
    standIn: (_key, spec) => {
      const fallback = spec.sandbox_default === undefined ? undefined : defaultText(spec.sandbox_default);
      return typeof fallback === 'string' ? fallback : undefined;
    },
  });
  const graph = machineGraph(buildRunMachine(plan));
  const steps = plan.steps.map((step): PlanStepNote => ({
    id: step.id,
    ...(step.do.length === 0 && { verifyOnly: true as const }),
    ...(step.noUndo !== undefined && { noUndo: step.noUndo }),
    ...(step.when !== undefined && { when: toShellLine(step.when.argv) }),
  }));
  if (options.format === 'json') {
    ctx.out(JSON.stringify({ runbook: plan.runbook, steps, ...graph }, null, 2));
  } else {
    ctx.out(toMermaid(graph, { title: `runbook run ${plan.runbook}`, steps }).trimEnd());
  }
  return ExitCode.ok;
}
