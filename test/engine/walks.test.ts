import { createActor, fromPromise } from 'xstate';
import { describe, expect, it } from 'vitest';
import { checkSteps } from '../../src/engine/check.js';
import { executeSteps } from '../../src/engine/execute-steps.js';
import {
  buildUndoMachine,
  type EffectInput,
  type EffectOutput,
  type GuardOutput,
  type UndoCommandsOutput,
} from '../../src/engine/undo-machine.js';
import { undoSteps } from '../../src/engine/undo-steps.js';
import { driveWalk } from '../../src/engine/walk-machine.js';
import { MemoryJournal } from '../../src/journal/sink.js';
import { FakeHost } from '../helpers/fake-executor.js';
import { fakePlan, fakeStep } from '../helpers/plans.js';

/**
 * Run, rollback and check walk their steps with one driver (issue 27, walk-machine.ts): the same
 * timing, interrupts, hooks and result. These tests drive the undo and check machines the way
 * machine.test.ts drives the run's, and the three verbs side by side.
 */

/**
 * The undo machine with stub actors, recording the states each step passes through, final state
 * included (a step's final state is inspected once the walk has moved on: kept by step).
 */
async function traceUndo(
  steps: ReturnType<typeof fakeStep>[],
  stub: {
    stillThere: (input: EffectInput) => string | undefined;
    undoFails?: (stepId: string) => string | undefined;
    refuse?: (stepId: string) => string | undefined;
  },
  cutOff: ReadonlySet<string> = new Set(),
) {
  const states: Record<string, string[]> = {};
  const machine = buildUndoMachine(steps, cutOff, {
    actors: {
      lookForEffect: fromPromise<EffectOutput, EffectInput>(async ({ input }) => ({
        stillThere: stub.stillThere(input),
        durationMs: 2,
      })),
      askGuard: fromPromise<GuardOutput, { stepId: string }>(async ({ input }) => ({
        refusal: stub.refuse?.(input.stepId),
        durationMs: 0,
      })),
      runUndo: fromPromise<UndoCommandsOutput, { stepId: string }>(async ({ input }) => ({
        failure: stub.undoFails?.(input.stepId),
        durationMs: 3,
      })),
    },
  });
  const actor = createActor(machine, {
    input: {},
    inspect: (event) => {
      if (event.type !== '@xstate.snapshot' || event.actorRef === actor) return;
      const snapshot = event.snapshot as { value?: unknown; context?: { stepId?: unknown } };
      const step = snapshot.context?.stepId;
      if (typeof step !== 'string') return;
      const seen = (states[step] ??= []);
      if (seen.at(-1) !== snapshot.value) seen.push(String(snapshot.value));
    },
  });
  const done = new Promise<unknown>((resolve) =>
    actor.subscribe({ complete: () => resolve(actor.getSnapshot().output) }),
  );
  actor.start();
  actor.send({ type: 'start' });
  return { output: await done, states, end: actor.getSnapshot().value };
}

describe('the rollback machine', () => {
  it('undoes, then verifies the effect gone: undone, each phase timed, the walk RolledBack', async () => {
    const { output, states, end } = await traceUndo([fakeStep('b'), fakeStep('a')], { stillThere: () => undefined });
    expect(states).toEqual({
      b: ['askGuard', 'undo', 'verifyGone', 'undone'],
      a: ['askGuard', 'undo', 'verifyGone', 'undone'],
    });
    expect(end).toBe('RolledBack');
    expect(output).toEqual({
      status: 'rolled-back',
      steps: [
        { stepId: 'b', outcome: 'undone', durationMs: 5, stillHolds: undefined },
        { stepId: 'a', outcome: 'undone', durationMs: 5, stillHolds: undefined },
      ],
      failure: undefined,
    });
  });

  it('stops at a step whose effect is still there: the steps before it may depend on it', async () => {
    const { output, end } = await traceUndo([fakeStep('b'), fakeStep('a')], {
      stillThere: ({ stepId }) => (stepId === 'b' ? 'still in effect: has b still holds' : undefined),
    });
    expect(end).toBe('Failed');
    expect(output).toMatchObject({
      status: 'failed',
      steps: [{ stepId: 'b', outcome: 'undo-failed', stillHolds: 'still in effect: has b still holds' }],
      failure: { stepId: 'b' },
    });
  });

  it('an undo command that failed (not "already gone") is not undone even when the checks say gone', async () => {
    const { output } = await traceUndo([fakeStep('a')], {
      stillThere: () => undefined,
      undoFails: () => 'delete a: busy',
    });
    expect(output).toMatchObject({
      status: 'failed',
      steps: [{ outcome: 'undo-failed', stillHolds: 'delete a: busy' }],
    });
  });

  it('a cut-off step with no part of its effect there is not undone: lookForEffect → notThere, no undo', async () => {
    const { output, states } = await traceUndo([fakeStep('a')], { stillThere: () => undefined }, new Set(['a']));
    expect(states).toEqual({ a: ['lookForEffect', 'notThere'] });
    expect(output).toMatchObject({
      status: 'rolled-back',
      steps: [{ stepId: 'a', outcome: 'undone', durationMs: 2, notThere: true }],
    });
  });

  it('a cut-off step with some of its effect there is undone like any other', async () => {
    let undone = false;
    const { states } = await traceUndo(
      [fakeStep('a')],
      {
        stillThere: ({ present }) => (present === 'any' && !undone ? 'part of it holds' : undefined),
        undoFails: () => ((undone = true), undefined),
      },
      new Set(['a']),
    );
    expect(states).toEqual({ a: ['lookForEffect', 'askGuard', 'undo', 'verifyGone', 'undone'] });
  });

  it('a step that cannot be undone (undo: none) is reported with its reason and the walk goes on, nothing run', async () => {
    const { output, states } = await traceUndo([fakeStep('flush', { noUndo: 'a one-off flush' }), fakeStep('a')], {
      stillThere: () => undefined,
    });
    expect(states).toEqual({ flush: ['notUndoable'], a: ['askGuard', 'undo', 'verifyGone', 'undone'] });
    expect(output).toMatchObject({
      status: 'rolled-back',
      steps: [
        { stepId: 'flush', outcome: 'not-undoable', durationMs: 0, stillHolds: 'a one-off flush' },
        { stepId: 'a', outcome: 'undone' },
      ],
    });
  });

  it('an undo the guard refuses never runs: askGuard → refused, undo-failed with the reason, and the walk stops there', async () => {
    const { output, states, end } = await traceUndo([fakeStep('ns'), fakeStep('a')], {
      stillThere: () => undefined,
      undoFails: (stepId) => {
        throw new Error(`the undo of ${stepId} ran`);
      },
      refuse: (stepId) => (stepId === 'ns' ? 'namespace ns holds a veth the run did not make' : undefined),
    });
    expect(states).toEqual({ ns: ['askGuard', 'refused'] });
    expect(end).toBe('Failed');
    expect(output).toMatchObject({
      status: 'failed',
      steps: [
        {
          stepId: 'ns',
          outcome: 'undo-failed',
          stillHolds: 'namespace ns holds a veth the run did not make',
          refused: true,
        },
      ],
      failure: { stepId: 'ns' },
    });
  });

  it('an actor that throws ends it in Aborted with that very error; the driver throws it again', async () => {
    const boom = new Error('journal full');
    const machine = buildUndoMachine([fakeStep('a')], new Set(), {
      actors: {
        runUndo: fromPromise<UndoCommandsOutput, { stepId: string }>(async () => {
          throw boom;
        }),
      },
    });
    await expect(driveWalk(machine)).rejects.toBe(boom);
  });
});

describe('one driver for run, rollback and check', () => {
  const plan = fakePlan(fakeStep('a'), fakeStep('b'), fakeStep('c'));

  /** Runs the three verbs against one FakeHost, with an interrupt after `after` commands. */
  async function interruptedAfter(after: number) {
    const host = new FakeHost();
    const controller = new AbortController();
    const executor = {
      calls: 0,
      async run(request: Parameters<FakeHost['run']>[0]) {
        if (++this.calls === after) controller.abort();
        return host.run(request);
      },
    };
    return { host, executor, signal: controller.signal };
  }

  it('an interrupt at a safe point ends each verb as interrupted, with the steps finished before it', async () => {
    const ran = await interruptedAfter(5);
    const run = await executeSteps({ plan, executor: ran.executor, journal: new MemoryJournal(), signal: ran.signal });
    expect(run).toMatchObject({ status: 'interrupted', failure: undefined });
    expect(run.steps.map((s) => s.stepId)).toEqual(['a']);

    const undo = await interruptedAfter(3);
    for (const id of ['a', 'b', 'c']) undo.host.present.add(id);
    const undone = await undoSteps({
      steps: [...plan.steps].reverse(),
      executor: undo.executor,
      journal: new MemoryJournal(),
      signal: undo.signal,
    });
    expect(undone.status).toBe('interrupted');
    expect(undone.steps.map((s) => s.stepId)).toEqual(['c']);

    const check = await interruptedAfter(2);
    const checked = await checkSteps({
      plan,
      executor: check.executor,
      journal: new MemoryJournal(),
      signal: check.signal,
    });
    expect(checked.status).toBe('interrupted');
    expect(checked.steps.map((s) => s.stepId)).toEqual(['a']);
  });

  it('an error other than an interrupt is thrown by each verb, not reported as a status', async () => {
    const broken = { run: async () => Promise.reject(new Error('executor broke')) };
    const journal = new MemoryJournal();
    await expect(executeSteps({ plan, executor: broken, journal, signal: undefined })).rejects.toThrow(
      'executor broke',
    );
    await expect(undoSteps({ steps: plan.steps, executor: broken, journal, signal: undefined })).rejects.toThrow(
      'executor broke',
    );
    await expect(checkSteps({ plan, executor: broken, journal, signal: undefined })).rejects.toThrow('executor broke');
  });

  it('a hook that throws (the journal cannot be written) fails the walk with that error', async () => {
    const host = new FakeHost();
    host.present.add('a');
    const full = new Error('no space left on device');
    const journal = {
      append(entry: { type: string }) {
        if (entry.type === 'step-undone') throw full;
      },
    };
    await expect(undoSteps({ steps: [fakeStep('a')], executor: host, journal, signal: undefined })).rejects.toBe(full);
  });

  it('the rollback journals each step as step-undone once its checks have run, and shows it then', async () => {
    const host = new FakeHost();
    host.present.add('a');
    const journal = new MemoryJournal();
    const shown: string[] = [];
    const result = await undoSteps({
      steps: [fakeStep('flush', { noUndo: 'one-off' }), fakeStep('a')],
      executor: host,
      journal,
      signal: undefined,
      onUndo: (report) => shown.push(`${report.stepId} ${report.outcome} (${journal.entries.length} entries)`),
    });
    expect(result.status).toBe('rolled-back');
    expect(journal.entries.map((e) => `${e.type}${'phase' in e ? ` ${e.phase}` : ''}`)).toEqual([
      'step-undone',
      'command-start undo',
      'command-end undo',
      'command-start undo-check',
      'command-end undo-check',
      'check undo-check',
      'step-undone',
    ]);
    expect(journal.entries[0]).toEqual({
      type: 'step-undone',
      step: 'flush',
      outcome: 'not-undoable',
      durationMs: 0,
      reason: 'one-off',
    });
    expect(shown).toEqual(['flush not-undoable (1 entries)', 'a undone (7 entries)']);
    expect(host.present.has('a')).toBe(false);
  });
});
