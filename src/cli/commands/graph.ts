import { ExitCode } from '../../errors.js';
import { machineGraph, toMermaid, type PlanStepNote } from '../../engine/graph.js';
import { buildRunMachine } from '../../engine/machine.js';
import { currentHost } from '../../host/identity.js';
import { toShellLine } from '../../text/shell-words.js';
import { defaultText } from '../../runbook/param-types.js';
import { prepareRunbook } from '../../runbook/prepare.js';
import { defineCommand, runbookArgument, setOption } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { choiceOption, type OptionsOf } from '../option-spec.js';

const graphOptions = {
  set: setOption(),
  format: choiceOption(
    '--format <format>',
    'mermaid (a stateDiagram-v2 to paste into Markdown) or json (nodes and transitions)',
    ['mermaid', 'json'],
    'mermaid',
  ),
};

export type GraphOptions = OptionsOf<typeof graphOptions>;

export const command = defineCommand({
  name: 'graph',
  description:
    "print the statechart `run` executes for a runbook, generated from the engine's own machine (nothing is run)",
  arguments: [runbookArgument],
  options: graphOptions,
  help: `
The run walks the runbook's steps in order (listed in a note); each step is run by Step, which
invokes the one step statechart: pending → check → (ok | do → verify → (changed | diagnosing
→ failed)), plus skipped for a step an earlier attempt finished; its final states are named
after the step's outcomes. The run ends Succeeded, Failed, Stopped (--until) or Aborted.
Transitions are labelled with their event and guard.`,
  examples: [
    ['runbook graph single-container > statechart.mmd'],
    ["runbook graph single-container --format json | jq '.steps[].id'"],
  ],
  stateDir: 'none',
  action: (ctx, [runbook], options) => graphCommand(ctx, runbook, options),
});

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
