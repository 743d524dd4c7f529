import { ExitCode } from '../../errors.js';
import { buildCheckMachine } from '../../engine/check-machine.js';
import { machineGraph, toMermaid, type PlanStepNote } from '../../engine/graph.js';
import { buildRunMachine } from '../../engine/machine.js';
import { buildUndoMachine } from '../../engine/undo-machine.js';
import { currentHost } from '../../host/identity.js';
import { toShellLine } from '../../text/shell-words.js';
import { defaultText } from '../../runbook/param-types.js';
import type { Plan } from '../../plan/plan.js';
import { prepareRunbook } from '../../runbook/prepare.js';
import { defineCommand, runbookArgument, setOption } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { choiceOption, flag, type OptionsOf } from '../option-spec.js';

const graphOptions = {
  set: setOption(),
  format: choiceOption(
    '--format <format>',
    'mermaid (a stateDiagram-v2 to paste into Markdown) or json (nodes and transitions)',
    ['mermaid', 'json'],
    'mermaid',
  ),
  rollback: flag('--rollback', "the machine a rollback of this runbook's run executes instead", {
    conflicts: ['check'],
  }),
  check: flag('--check', 'the machine `runbook check` executes instead'),
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
A rollback (--rollback) and check (--check) walk their steps the same way, each step by its
own step machine: pending → (notUndoable | askGuard → (refused | undo → verifyGone → (undone |
undoFailed))), a step whose do was cut off looking for its effect first (lookForEffect →
notThere or askGuard), askGuard refusing an undo that would delete a container holding what
the run did not make; pending → verify → (holds | diagnosing → doesNotHold), with a step's
when: and export: as in a run.
Transitions are labelled with their event and guard.`,
  examples: [
    ['runbook graph single-container > statechart.mmd', 'the statechart as Mermaid, in a file'],
    ['runbook graph single-container --rollback', 'the machine a rollback of its run executes'],
    ["runbook graph single-container --format json | jq '.steps[].id'", 'the step ids, from the JSON'],
  ],
  stateDir: 'none',
  action: (ctx, [runbook], options) => graphCommand(ctx, runbook, options),
});

/**
 * `runbook graph <runbook> [--rollback | --check]`: the statechart `run` (or a rollback, or
 * `check`) executes for this runbook, read from the machine object itself (buildRunMachine,
 * buildUndoMachine, buildCheckMachine), as Mermaid or JSON, with the plan's steps that it walks
 * through in order. Runs nothing.
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
  const drawn =
    options.rollback === true ? rollbackDrawing(plan) : options.check === true ? checkDrawing(plan) : runDrawing(plan);
  const graph = machineGraph(drawn.machine);
  if (options.format === 'json') {
    ctx.out(JSON.stringify({ runbook: plan.runbook, steps: drawn.steps, ...graph }, null, 2));
  } else {
    ctx.out(toMermaid(graph, { title: drawn.title, steps: drawn.steps, stepsNote: drawn.stepsNote }).trimEnd());
  }
  return ExitCode.ok;
}

interface Drawing {
  machine: Parameters<typeof machineGraph>[0];
  title: string;
  steps: PlanStepNote[];
  stepsNote: string | undefined;
}

const noteOf = (step: Plan['steps'][number]): PlanStepNote => ({
  id: step.id,
  ...(step.do.length === 0 && { verifyOnly: true as const }),
  ...(step.noUndo !== undefined && { noUndo: step.noUndo }),
  ...(step.when !== undefined && { when: toShellLine(step.when.argv) }),
});

function runDrawing(plan: Plan): Drawing {
  return {
    machine: buildRunMachine(plan),
    title: `runbook run ${plan.runbook}`,
    steps: plan.steps.map(noteOf),
    stepsNote: undefined,
  };
}

/**
 * A rollback undoes the steps a run changed, newest first: at most every step with a `do`, in
 * reverse order (a step without `do` changes nothing and is never undone).
 */
function rollbackDrawing(plan: Plan): Drawing {
  const undoable = plan.steps.filter((s) => s.do.length > 0).reverse();
  return {
    machine: buildUndoMachine(undoable),
    title: `runbook rollback of a ${plan.runbook} run`,
    steps: undoable.map(noteOf),
    stepsNote: 'the steps a rollback undoes, newest first (those the run changed), each by Step',
  };
}

function checkDrawing(plan: Plan): Drawing {
  return {
    machine: buildCheckMachine(plan),
    title: `runbook check ${plan.runbook}`,
    steps: plan.steps.map((s) => ({ id: s.id, ...(s.when !== undefined && { when: toShellLine(s.when.argv) }) })),
    stepsNote: 'the steps, in order, each checked by Step',
  };
}
