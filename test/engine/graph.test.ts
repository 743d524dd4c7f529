import { describe, expect, it } from 'vitest';
import { machineGraph, mermaidId, toMermaid } from '../../src/engine/graph.js';
import { buildRunMachine, RunEnd } from '../../src/engine/machine.js';
import { prepareRunbook } from '../../src/runbook/prepare.js';
import { fakePlan, fakeStep } from '../helpers/plans.js';

/**
 * `runbook graph`: the diagram is read from the machine the engine runs. Pure: no I/O but
 * reading the shipped runbook file.
 */

const plan = fakePlan(fakeStep('make-link'), fakeStep('ping', { do: [], undo: [] }));
const phasesWithDo = ['pending', 'check', 'do', 'verify', 'diagnosing', 'skipped', 'ok', 'changed', 'failed'];
const phasesVerifyOnly = ['pending', 'check', 'diagnosing', 'skipped', 'ok', 'failed'];
const runEnds = Object.values(RunEnd);

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

  it('has one node per state node of the machine (root excluded)', () => {
    expect(graph.nodes).toHaveLength(countStateNodes(machine.root as never));
    // 2 compound steps + 9 + 6 phases + Starting + 4 run ends
    expect(graph.nodes).toHaveLength(2 + phasesWithDo.length + phasesVerifyOnly.length + 1 + runEnds.length);
  });

  it("nests each step's phases under it; a verify-only step has no do / verify / changed", () => {
    const childrenOf = (id: string) => graph.nodes.filter((n) => n.parent === id).map((n) => n.key);
    expect(childrenOf('make-link')).toEqual(phasesWithDo);
    expect(childrenOf('ping')).toEqual(phasesVerifyOnly);
    expect(graph.nodes.filter((n) => n.parent === null).map((n) => n.id)).toEqual([
      'make-link',
      'ping',
      'Starting',
      ...runEnds,
    ]);
    expect(graph.nodes.find((n) => n.id === 'make-link')).toMatchObject({
      type: 'compound',
      initial: 'make-link.pending',
    });
    expect(graph.nodes.find((n) => n.id === 'make-link.failed')).toMatchObject({ type: 'final' });
    expect(graph.initial).toBe('Starting');
  });

  it('records the invoked actors and the outcome each final phase reports', () => {
    const node = (id: string) => graph.nodes.find((n) => n.id === id);
    expect(node('make-link.check')?.invoke).toEqual([
      { src: 'runChecks', input: { stepId: 'make-link', phase: 'check' } },
    ]);
    expect(node('make-link.verify')?.invoke).toEqual([
      { src: 'runChecks', input: { stepId: 'make-link', phase: 'verify' } },
    ]);
    expect(node('make-link.do')?.invoke[0]?.src).toBe('runCommands');
    expect(node('make-link.diagnosing')?.invoke[0]?.src).toBe('runProbes');
    expect(node('make-link.changed')?.entry).toContainEqual({
      type: 'stepFinished',
      params: { stepId: 'make-link', outcome: 'changed' },
    });
  });

  it('has the transitions the engine takes: always, onDone with guards, onError, the start event', () => {
    const edges = graph.transitions.map((t) => `${t.source} -${t.kind}${t.guard ? `[${t.guard}]` : ''}-> ${t.target}`);
    expect(edges).toEqual(
      expect.arrayContaining([
        'Starting -event-> make-link',
        'make-link.pending -always[finishedEarlier]-> make-link.skipped',
        'make-link.pending -always[else]-> make-link.check',
        'make-link.check -done[checksPassed]-> make-link.ok',
        'make-link.check -done[else]-> make-link.do',
        'make-link.do -done-> make-link.verify',
        'make-link.verify -done[checksPassed]-> make-link.changed',
        'make-link.verify -done[else]-> make-link.diagnosing',
        'make-link.diagnosing -done-> make-link.failed',
        'make-link.diagnosing -error-> Aborted',
        'make-link -done[stepFailed]-> Failed',
        'make-link -done[isStopPoint]-> Stopped',
        'make-link -done[else]-> ping',
        'ping.check -done[else]-> ping.diagnosing',
        'ping -done[else]-> Succeeded',
      ]),
    );
    expect(graph.transitions.find((t) => t.source === 'make-link.do')?.actions).toEqual(['noteDoResult']);
    expect(graph.transitions.find((t) => t.kind === 'error')?.actions).toEqual(['keepError']);
    // Each phase that invokes an actor can abort: check, do, verify, diagnosing; ping has no do/verify.
    expect(graph.transitions.filter((t) => t.kind === 'error').map((t) => t.source)).toEqual([
      'make-link.check',
      'make-link.do',
      'make-link.verify',
      'make-link.diagnosing',
      'ping.check',
      'ping.diagnosing',
    ]);
  });

  it('is serialisable JSON and follows the plan: same plan, same graph', () => {
    expect(JSON.parse(JSON.stringify(graph))).toEqual(graph);
    expect(machineGraph(buildRunMachine(plan))).toEqual(graph);
  });
});

describe('toMermaid', () => {
  const text = toMermaid(machineGraph(buildRunMachine(plan)));
  const lines = text.trimEnd().split('\n');

  it('is a stateDiagram-v2 with one composite state per step, holding its phases', () => {
    expect(lines[0]).toBe('stateDiagram-v2');
    expect(text).toContain('  state "make-link" as make_link {');
    expect(text).toContain('  state "ping" as ping {');
    for (const phase of phasesWithDo) expect(text).toContain(`    state "${phase}" as make_link__${phase}\n`);
    for (const phase of phasesVerifyOnly) expect(text).toContain(`    state "${phase}" as ping__${phase}\n`);
    expect(text).not.toContain('ping__do');
    expect(text).toContain('    [*] --> make_link__pending');
    expect(text).toContain('  [*] --> Starting');
  });

  it('labels transitions with their event and guard; final phases end the step', () => {
    expect(text).toContain('    make_link__verify --> make_link__diagnosing : done [else]');
    expect(text).toContain('    make_link__check --> make_link__ok : done [checksPassed]');
    expect(text).toContain('    make_link__pending --> make_link__skipped : [finishedEarlier]');
    expect(text).toContain('    make_link__diagnosing --> make_link__failed : done');
    expect(text).toContain('    make_link__failed --> [*]');
    expect(text).toContain('  make_link --> Failed : done [stepFailed]');
    expect(text).toContain('  make_link --> ping : done [else]');
    expect(text).toContain('  ping --> Succeeded : done [else]');
    expect(text).toContain('  Starting --> make_link : start');
    expect(text).toContain('    make_link__check : invoke runChecks (check)');
  });

  it("draws a phase's error → Aborted from the step, naming the phases (Mermaid cannot cross composite borders)", () => {
    expect(text).toContain('  make_link --> Aborted : error from check, do, verify, diagnosing');
    expect(text).toContain('  ping --> Aborted : error from check, diagnosing');
    expect(text).not.toMatch(/__\w+ --> Aborted/);
  });

  it('uses only Mermaid-safe ids and balanced braces', () => {
    let depth = 0;
    for (const line of lines.slice(1)) {
      const t = line.trim();
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
    expect(mermaidId('veth-pair.check')).toBe('veth_pair__check');
  });
});

describe('the single-container runbook', () => {
  const { plan: real } = prepareRunbook('single-container', []);
  const graph = machineGraph(buildRunMachine(real));
  const text = toMermaid(graph);

  it('every step id appears as a composite state with check / do / verify / diagnosing / failed inside', () => {
    for (const step of real.steps) {
      const id = mermaidId(step.id);
      expect(text).toContain(`state "${step.id}" as ${id} {`);
      const phases =
        step.do.length > 0 ? ['check', 'do', 'verify', 'diagnosing', 'failed'] : ['check', 'diagnosing', 'failed'];
      for (const phase of phases) expect(text).toContain(`state "${phase}" as ${id}__${phase}`);
    }
  });

  it('json node count = steps with do × 10 + verify-only steps × 7 + Starting + 4 ends', () => {
    const withDo = real.steps.filter((s) => s.do.length > 0).length;
    const verifyOnly = real.steps.length - withDo;
    expect(graph.nodes).toHaveLength(withDo * 10 + verifyOnly * 7 + 5);
    expect(graph.nodes.filter((n) => n.type === 'compound').map((n) => n.id)).toEqual(real.steps.map((s) => s.id));
  });
});
