import { describe, expect, it } from 'vitest';
import { machineGraph, mermaidId, toMermaid } from '../../src/engine/graph.js';
import { buildCheckMachine, CheckEnd } from '../../src/engine/check-machine.js';
import { buildRunMachine, RunEnd } from '../../src/engine/machine.js';
import { buildUndoMachine, RollbackEnd } from '../../src/engine/undo-machine.js';
import { prepareRunbook } from '../../src/runbook/prepare.js';
import { fakePlan, fakeStep } from '../helpers/plans.js';

/**
 * `runbook graph`: the diagram is read from the machine the engine runs. Pure: no I/O but
 * reading the shipped runbook file.
 */

const plan = fakePlan(fakeStep('make-link'), fakeStep('ping', { do: [], undo: [] }));
const phases = [
  'pending',
  'when',
  'check',
  'do',
  'verify',
  'diagnosing',
  'holds',
  'exporting',
  'skipped',
  'ok',
  'changed',
  'failed',
];
const runStates = ['Starting', 'Step', 'StepEnded', 'Verifying', ...Object.values(RunEnd)];

/** Every state node of an xstate machine, counted by walking it independently of graph.ts. */
function countStateNodes(node: { states: Record<string, unknown> }): number {
  return Object.values(node.states).reduce<number>(
    (n, child) => n + 1 + countStateNodes(child as { states: Record<string, unknown> }),
    0,
  );
}

describe('machineGraph (json)', () => {
  const machine = buildRunMachine(plan);
  const graph = machineGraph(machine);
  const stepMachine = machine.implementations.actors.runStep as unknown as {
    root: { states: Record<string, unknown> };
  };

  it('has one node per state node of the run machine and of the step machine it invokes (roots excluded)', () => {
    expect(graph.nodes).toHaveLength(countStateNodes(machine.root as never) + countStateNodes(stepMachine.root));
    expect(graph.nodes).toHaveLength(runStates.length + phases.length);
  });

  it("nests the step machine's states under Step, which starts where the step machine starts", () => {
    const childrenOf = (id: string) => graph.nodes.filter((n) => n.parent === id).map((n) => n.key);
    expect(childrenOf('Step')).toEqual(phases);
    expect(graph.nodes.filter((n) => n.parent === null).map((n) => n.id)).toEqual(runStates);
    expect(graph.nodes.find((n) => n.id === 'Step')).toMatchObject({
      initial: 'Step.pending',
      invoke: [{ src: 'runStep', input: undefined }],
    });
    expect(graph.nodes.find((n) => n.id === 'Step.failed')).toMatchObject({ type: 'final', machine: 'step' });
    expect(graph.initial).toBe('Starting');
  });

  it('records the invoked actors and the outcome each final state of a step gives', () => {
    const node = (id: string) => graph.nodes.find((n) => n.id === id);
    expect(node('Step.check')?.invoke[0]?.src).toBe('runChecks');
    expect(node('Step.verify')?.invoke[0]?.src).toBe('runChecks');
    expect(node('Step.do')?.invoke[0]?.src).toBe('runCommands');
    expect(node('Step.diagnosing')?.invoke[0]?.src).toBe('runProbes');
    for (const outcome of ['skipped', 'ok', 'changed', 'failed'])
      expect(node(`Step.${outcome}`)?.output).toEqual({ outcome });
  });

  it('has the transitions the engine takes: always, onDone with guards, onError, the start event', () => {
    const edges = graph.transitions.map((t) => `${t.source} -${t.kind}${t.guard ? `[${t.guard}]` : ''}-> ${t.target}`);
    expect(edges).toEqual([
      'Starting -event[planIsEmpty]-> Succeeded',
      'Starting -event[else]-> Step',
      'Step -done-> StepEnded',
      'Step -error-> Aborted',
      'Step.pending -always[finishedEarlier]-> Step.skipped',
      'Step.pending -always[blocked]-> Step.failed',
      'Step.pending -always[hasWhen]-> Step.when',
      'Step.pending -always[else]-> Step.check',
      'Step.when -done[conditionHolds]-> Step.check',
      'Step.when -done[conditionFalse]-> Step.skipped',
      'Step.when -done[else]-> Step.failed',
      'Step.check -done[checksPassed]-> Step.holds',
      'Step.check -done[hasDo]-> Step.do',
      'Step.check -done[else]-> Step.diagnosing',
      'Step.do -done-> Step.verify',
      'Step.verify -done[checksPassed]-> Step.holds',
      'Step.verify -done[else]-> Step.diagnosing',
      'Step.diagnosing -done-> Step.failed',
      'Step.holds -always[hasExports]-> Step.exporting',
      'Step.holds -always[didDo]-> Step.changed',
      'Step.holds -always[else]-> Step.ok',
      'Step.exporting -done[exportFailed]-> Step.failed',
      'Step.exporting -done[didDo]-> Step.changed',
      'Step.exporting -done[else]-> Step.ok',
      'StepEnded -always[stepFailed]-> Failed',
      'StepEnded -always[isStopPoint]-> Verifying',
      'StepEnded -always[moreSteps]-> Step',
      'StepEnded -always[else]-> Verifying',
      // The final pass (issue 28).
      'Verifying -done[noLongerHolds]-> Failed',
      'Verifying -done[stopping]-> Stopped',
      'Verifying -done[else]-> Succeeded',
      'Verifying -error-> Aborted',
    ]);
    expect(graph.transitions.find((t) => t.source === 'Step' && t.kind === 'done')?.actions).toEqual([
      'recordOutcome',
      'stepFinished',
    ]);
    expect(graph.transitions.find((t) => t.source === 'Step.do')?.actions).toEqual(['noteDoResult']);
    expect(graph.transitions.find((t) => t.kind === 'error')?.actions).toEqual(['keepError']);
  });

  it('is serialisable JSON and follows the machine: same plan, same graph', () => {
    expect(JSON.parse(JSON.stringify(graph))).toEqual(graph);
    expect(machineGraph(buildRunMachine(plan))).toEqual(graph);
  });
});

describe('toMermaid', () => {
  const steps = [{ id: 'make-link' }, { id: 'ping', verifyOnly: true as const }];
  const text = toMermaid(machineGraph(buildRunMachine(plan)), { steps });
  const lines = text.trimEnd().split('\n');

  it("is a stateDiagram-v2 with Step as a composite state holding the step machine's states", () => {
    expect(lines[0]).toBe('stateDiagram-v2');
    expect(text).toContain('  state "Step" as Step {');
    for (const phase of phases) expect(text).toContain(`    state "${phase}" as Step__${phase}\n`);
    expect(text).toContain('    [*] --> Step__pending');
    expect(text).toContain('  [*] --> Starting');
  });

  it('labels transitions with their event and guard; final states end the step and name its outcome', () => {
    expect(text).toContain('    Step__verify --> Step__diagnosing : done [else]');
    expect(text).toContain('    Step__check --> Step__holds : done [checksPassed]');
    expect(text).toContain('    Step__holds --> Step__ok : [else]');
    expect(text).toContain('    Step__when --> Step__skipped : done [conditionFalse]');
    expect(text).toContain('  Verifying --> Failed : done [noLongerHolds]');
    expect(text).toContain('    Step__check --> Step__do : done [hasDo]');
    expect(text).toContain('    Step__pending --> Step__skipped : [finishedEarlier]');
    expect(text).toContain('    Step__diagnosing --> Step__failed : done');
    expect(text).toContain('    Step__failed --> [*]');
    expect(text).toContain('    Step__changed : outcome changed');
    expect(text).toContain('  Step --> StepEnded : done');
    expect(text).toContain('  Step --> Aborted : error');
    expect(text).toContain('  StepEnded --> Step : [moreSteps]');
    expect(text).toContain('  StepEnded --> Failed : [stepFailed]');
    expect(text).toContain('  Starting --> Step : start [else]');
    expect(text).toContain('    Step__check : invoke runChecks');
  });

  it("lists the plan's steps in order in a note, marking a step without do", () => {
    expect(text).toContain(
      [
        '  note left of Starting',
        '    the steps, in order, each run by Step',
        '    make-link',
        '    ping (no do)',
        '  end note',
      ].join('\n'),
    );
  });

  it('uses only Mermaid-safe ids and balanced braces', () => {
    let depth = 0;
    let inNote = false;
    for (const line of lines.slice(1)) {
      const t = line.trim();
      if (t.startsWith('note ')) inNote = true;
      if (inNote) {
        expect(t, 'a note line must not end the note early').not.toMatch(/end\s*note./i);
        if (t === 'end note') inNote = false;
        continue;
      }
      if (t.endsWith('{')) depth += 1;
      if (t === '}') depth -= 1;
      expect(depth).toBeGreaterThanOrEqual(0);
      const ok =
        /^state "[^":;#]+" as [A-Za-z0-9_]+( \{)?$/.test(t) ||
        /^(\[\*\]|[A-Za-z0-9_]+) --> (\[\*\]|[A-Za-z0-9_]+)( : [^:;#"]+)?$/.test(t) ||
        /^[A-Za-z0-9_]+ : [^:;#"]+$/.test(t) ||
        t === '}';
      expect(ok, `not a Mermaid line this generator should emit: ${line}`).toBe(true);
    }
    expect(depth).toBe(0);
    expect(inNote).toBe(false);
    expect(mermaidId('veth-pair.check')).toBe('veth_pair__check');
  });

  it('a reason that says "end note" cannot end the note', () => {
    const tricky = toMermaid(machineGraph(buildRunMachine(plan)), {
      steps: [{ id: 'make-link', noUndo: 'see the end note; and the end  note' }],
    });
    const note = tricky.slice(tricky.indexOf('note left of'));
    expect(note.match(/end\s*note/gi)).toEqual(['end note']);
  });
});

describe('the single-container runbook', () => {
  const { plan: real } = prepareRunbook('single-container', []);
  const graph = machineGraph(buildRunMachine(real));

  it('is the same machine as for any plan: the steps are data, each run by Step in turn', () => {
    expect(graph).toEqual(machineGraph(buildRunMachine(plan)));
    expect(graph.nodes).toHaveLength(runStates.length + phases.length);
  });
});

describe('the rollback and check machines (issue 27)', () => {
  const undoPhases = [
    'pending',
    'lookForEffect',
    'askGuard',
    'undo',
    'verifyGone',
    'notUndoable',
    'notThere',
    'undone',
    'undoFailed',
    'refused',
  ];
  const edges = (graph: ReturnType<typeof machineGraph>) =>
    graph.transitions.map((t) => `${t.source} -${t.kind}${t.guard ? `[${t.guard}]` : ''}-> ${t.target}`);

  it('the rollback is a walk like the run: Starting, Step holding the undo step machine, StepEnded, its ends', () => {
    const graph = machineGraph(buildUndoMachine([...plan.steps].reverse()));
    expect(graph.machine).toBe('rollback');
    expect(graph.nodes.filter((n) => n.parent === null).map((n) => n.id)).toEqual([
      'Starting',
      'Step',
      'StepEnded',
      ...Object.values(RollbackEnd),
    ]);
    expect(graph.nodes.filter((n) => n.parent === 'Step').map((n) => n.key)).toEqual(undoPhases);
    expect(graph.nodes.find((n) => n.id === 'Step.undoFailed')).toMatchObject({
      type: 'final',
      machine: 'undoStep',
      output: { outcome: 'undo-failed' },
    });
    expect(graph.nodes.find((n) => n.id === 'Step.notThere')?.output).toEqual({ outcome: 'undone', notThere: true });
    expect(graph.nodes.find((n) => n.id === 'Step.refused')?.output).toEqual({ outcome: 'undo-failed', refused: true });
    expect(edges(graph)).toEqual([
      'Starting -event[planIsEmpty]-> RolledBack',
      'Starting -event[else]-> Step',
      'Step -done-> StepEnded',
      'Step -error-> Aborted',
      'Step.pending -always[notUndoable]-> Step.notUndoable',
      'Step.pending -always[cutOff]-> Step.lookForEffect',
      'Step.pending -always[else]-> Step.askGuard',
      'Step.lookForEffect -done[effectAbsent]-> Step.notThere',
      'Step.lookForEffect -done[else]-> Step.askGuard',
      'Step.askGuard -done[refused]-> Step.refused',
      'Step.askGuard -done[else]-> Step.undo',
      'Step.undo -done-> Step.verifyGone',
      'Step.verifyGone -done[notUndone]-> Step.undoFailed',
      'Step.verifyGone -done[else]-> Step.undone',
      'StepEnded -always[stepFailed]-> Failed',
      'StepEnded -always[moreSteps]-> Step',
      'StepEnded -always[else]-> RolledBack',
    ]);
  });

  it('the check walks every step whatever the earlier ones showed: more steps is asked before a failure', () => {
    const graph = machineGraph(buildCheckMachine(plan));
    expect(graph.machine).toBe('check');
    expect(graph.nodes.filter((n) => n.parent === null).map((n) => n.id)).toEqual([
      'Starting',
      'Step',
      'StepEnded',
      ...Object.values(CheckEnd),
    ]);
    expect(edges(graph)).toEqual([
      'Starting -event[planIsEmpty]-> Holds',
      'Starting -event[else]-> Step',
      'Step -done-> StepEnded',
      'Step -error-> Aborted',
      'Step.pending -always[blocked]-> Step.doesNotHold',
      'Step.pending -always[hasWhen]-> Step.when',
      'Step.pending -always[else]-> Step.verify',
      'Step.when -done[conditionHolds]-> Step.verify',
      'Step.when -done[conditionFalse]-> Step.skipped',
      'Step.when -done[else]-> Step.doesNotHold',
      'Step.verify -done[checksPassed]-> Step.verified',
      'Step.verify -done[else]-> Step.diagnosing',
      'Step.diagnosing -done-> Step.doesNotHold',
      'Step.verified -always[hasExports]-> Step.exporting',
      'Step.verified -always[else]-> Step.holds',
      'Step.exporting -done[exportFailed]-> Step.doesNotHold',
      'Step.exporting -done[else]-> Step.holds',
      'StepEnded -always[moreSteps]-> Step',
      'StepEnded -always[stepFailed]-> DoesNotHold',
      'StepEnded -always[else]-> Holds',
    ]);
  });

  it('all three walks share the same Step: its entry hook, its actions when a step ends, its error edge', () => {
    const walks = [buildRunMachine(plan), buildUndoMachine(plan.steps), buildCheckMachine(plan)].map(machineGraph);
    const stepOf = (graph: ReturnType<typeof machineGraph>) => ({
      node: graph.nodes.find((n) => n.id === 'Step')?.entry,
      done: graph.transitions.find((t) => t.source === 'Step' && t.kind === 'done')?.actions,
      error: graph.transitions
        .filter((t) => t.source === 'Step' && t.kind === 'error')
        .map((t) => [t.target, t.guard, t.actions]),
    });
    for (const walk of walks) expect(stepOf(walk)).toEqual(stepOf(walks[0]!));
  });

  it('are the same size for 10,000 steps as for one', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => fakeStep(`s${i}`));
    expect(machineGraph(buildUndoMachine(many)).nodes).toEqual(machineGraph(buildUndoMachine([fakeStep('a')])).nodes);
    expect(machineGraph(buildCheckMachine(fakePlan(...many))).nodes).toEqual(
      machineGraph(buildCheckMachine(fakePlan(fakeStep('a')))).nodes,
    );
  });

  it('toMermaid heads the note of steps as the verb walks them', () => {
    const text = toMermaid(machineGraph(buildUndoMachine([...plan.steps].reverse())), {
      steps: [{ id: 'make-link' }],
      stepsNote: 'the steps a rollback undoes, newest first',
    });
    expect(text).toContain('  note left of Starting\n    the steps a rollback undoes, newest first\n    make-link\n');
    expect(text).toContain('    Step__verifyGone --> Step__undoFailed : done [notUndone]');
  });
});
