import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import {
  buildRunMachine,
  RunEnd,
  type ChecksInput,
  type ChecksOutput,
  type CommandsOutput,
  type PhaseInput,
  type ProbesOutput,
} from '../../src/engine/machine.js';
import { executeSteps, type ExecuteStepsOptions } from '../../src/engine/execute-steps.js';
import type { JournalEntry } from '../../src/journal/entries.js';
import { MemoryJournal } from '../../src/journal/sink.js';
import type { Plan, PlannedProbe } from '../../src/plan/plan.js';
import { FakeExecutor, FakeHost } from '../helpers/fake-executor.js';
import { fakePlan, fakeStep } from '../helpers/plans.js';

/**
 * State-transition tests of the run statechart, driven through executeSteps with fake
 * executors and an in-memory journal: no kernel, no disk.
 */

function run(plan: Plan, executor: FakeExecutor | FakeHost, extra: Partial<ExecuteStepsOptions> = {}) {
  const journal = new MemoryJournal();
  const promise = executeSteps({ plan, executor, journal, signal: undefined, ...extra });
  return { journal, promise };
}

const outcomes = (result: { steps: Array<{ stepId: string; outcome: string }> }) =>
  result.steps.map((s) => [s.stepId, s.outcome]);
const types = (entries: readonly JournalEntry[]) => entries.map((e) => e.type);

function probe(
  name: string,
  when: PlannedProbe['when'],
  cause: string,
  fix?: string,
  independent = false,
): PlannedProbe {
  return { argv: ['probe', name], timeoutMs: 1000, when, cause, fix, independent };
}

describe('run machine', () => {
  it('does a missing step, skips a satisfied one', async () => {
    const host = new FakeHost();
    host.present.add('b');
    const journal = new MemoryJournal();
    const result = await executeSteps({
      plan: fakePlan(fakeStep('a'), fakeStep('b')),
      executor: host,
      journal,
      signal: undefined,
    });
    expect(result.status).toBe('succeeded');
    expect(result.steps.map((s) => [s.stepId, s.outcome])).toEqual([
      ['a', 'changed'],
      ['b', 'ok'],
    ]);
    expect(host.calls).toEqual(['has a', 'create a', 'has a', 'has b']);
  });

  it('check holds → ok: the do command is never called', async () => {
    const host = new FakeHost();
    host.present.add('alpha');
    const { promise, journal } = run(fakePlan(fakeStep('alpha')), host);
    const result = await promise;
    expect(result.status).toBe('succeeded');
    expect(outcomes(result)).toEqual([['alpha', 'ok']]);
    expect(result.steps[0]?.doFailed).toBe(false);
    expect(host.calls).toEqual(['has alpha']);
    expect(host.calls.some((c) => c.startsWith('create'))).toBe(false);
    expect(
      journal.entries.filter((e) => e.type === 'command-start').map((e) => e.type === 'command-start' && e.phase),
    ).toEqual(['check']);
    expect(journal.entries.at(-1)).toMatchObject({ type: 'step-end', step: 'alpha', outcome: 'ok', doFailed: false });
  });

  it('check fails → do → verify holds → changed', async () => {
    const host = new FakeHost();
    const { promise } = run(fakePlan(fakeStep('alpha')), host);
    const result = await promise;
    expect(result.status).toBe('succeeded');
    expect(result.failure).toBeUndefined();
    expect(outcomes(result)).toEqual([['alpha', 'changed']]);
    expect(result.steps[0]?.doFailed).toBe(false);
    expect(host.calls).toEqual(['has alpha', 'create alpha', 'has alpha']);
    expect(host.present.has('alpha')).toBe(true);
  });

  it('do fails and verify fails → failed; diagnosing runs the probes and reports the first finding', async () => {
    const exec = new FakeExecutor()
      .on('create alpha', { exitCode: 1, stderr: 'RTNETLINK answers: Operation not permitted\n' })
      .on('has alpha', { exitCode: 1, stderr: 'no alpha\n' })
      .on('probe p1', { exitCode: 0, stdout: 'fine\n' })
      .on('probe p2', { exitCode: 0, stdout: 'the cable is missing\n' })
      .on('probe p3', { exitCode: 0, stdout: 'the cable is missing too\n' });
    const step = fakeStep('alpha', {
      diagnose: [
        probe('p1', { exit: 'nonzero' }, 'cause one', 'fix one'),
        probe('p2', { output_contains: 'missing' }, 'the cable is missing', 'plug it in'),
        probe('p3', { output_contains: 'missing' }, 'a later, more specific cause'),
      ],
    });
    const { promise, journal } = run(fakePlan(step, fakeStep('beta')), exec);
    const result = await promise;

    expect(result.status).toBe('failed');
    expect(outcomes(result)).toEqual([['alpha', 'failed']]);
    expect(result.failure?.stepId).toBe('alpha');
    expect(result.failure?.check).toMatchObject({
      argv: ['has', 'alpha'],
      reason: 'expected exit status 0, got 1',
      evidence: 'no alpha',
    });
    expect(result.failure?.findings).toEqual([
      { cause: 'the cable is missing', evidence: 'the cable is missing', fix: 'plug it in', argv: ['probe', 'p2'] },
    ]);
    // The probes run in order and stop at the first match; the next step never starts.
    expect(exec.calls).toEqual(['has alpha', 'create alpha', 'has alpha', 'probe p1', 'probe p2']);
    const finding = journal.entries.find((e) => e.type === 'finding');
    expect(finding).toMatchObject({
      type: 'finding',
      step: 'alpha',
      index: 1,
      cause: 'the cable is missing',
      fix: 'plug it in',
    });
    expect(journal.entries.at(-1)).toMatchObject({
      type: 'step-end',
      step: 'alpha',
      outcome: 'failed',
      doFailed: true,
    });
    expect(journal.entries.some((e) => e.type === 'step-start' && e.step === 'beta')).toBe(false);
  });

  it('a failed step with no matching probe has no finding, and the check that failed is reported', async () => {
    const exec = new FakeExecutor().on('has alpha', { exitCode: 2, stdout: 'nope\n' });
    const step = fakeStep('alpha', { diagnose: [probe('p1', { exit: 'nonzero' }, 'never')] });
    const result = await run(fakePlan(step), exec).promise;
    expect(result.status).toBe('failed');
    expect(result.failure?.findings).toEqual([]);
    expect(result.failure?.check?.reason).toBe('expected exit status 0, got 2');
    expect(exec.calls).toEqual(['has alpha', 'create alpha', 'has alpha', 'probe p1']);
  });

  it('do fails but verify holds → changed, with doFailed', async () => {
    // The check fails once (before do), then the effect is there (someone else made it).
    const exec = new FakeExecutor()
      .on('has alpha', { exitCode: 1 }, 1)
      .on('create alpha', { exitCode: 2, stderr: 'File exists\n' });
    const { promise, journal } = run(fakePlan(fakeStep('alpha'), fakeStep('beta')), exec);
    const result = await promise;
    expect(result.status).toBe('succeeded');
    expect(outcomes(result)).toEqual([
      ['alpha', 'changed'],
      ['beta', 'ok'],
    ]);
    expect(result.steps[0]?.doFailed).toBe(true);
    // doFailed is per step: it does not leak into the next one.
    expect(result.steps[1]?.doFailed).toBe(false);
    expect(exec.calls).toEqual(['has alpha', 'create alpha', 'has alpha', 'has beta']);
    expect(journal.entries.find((e) => e.type === 'step-end' && e.step === 'alpha')).toMatchObject({
      outcome: 'changed',
      doFailed: true,
    });
  });

  it('a do with several commands stops at the first that fails, and verify decides', async () => {
    const exec = new FakeExecutor().on('has alpha', { exitCode: 1 }, 1).on('do-2', { exitCode: 1 });
    const step = fakeStep('alpha', {
      do: [
        { argv: ['do-1'], timeoutMs: 1000 },
        { argv: ['do-2'], timeoutMs: 1000 },
        { argv: ['do-3'], timeoutMs: 1000 },
      ],
    });
    const result = await run(fakePlan(step), exec).promise;
    expect(exec.calls).toEqual(['has alpha', 'do-1', 'do-2', 'has alpha']);
    expect(outcomes(result)).toEqual([['alpha', 'changed']]);
    expect(result.steps[0]?.doFailed).toBe(true);
  });

  it('verify fails after a successful do → failed', async () => {
    const exec = new FakeExecutor().on('has alpha', { exitCode: 1, stderr: 'still missing\n' });
    const { promise, journal } = run(fakePlan(fakeStep('alpha'), fakeStep('beta')), exec);
    const result = await promise;
    expect(result.status).toBe('failed');
    expect(outcomes(result)).toEqual([['alpha', 'failed']]);
    expect(result.steps[0]?.doFailed).toBe(false);
    expect(result.failure).toMatchObject({
      stepId: 'alpha',
      title: 'make alpha',
      check: { reason: 'expected exit status 0, got 1', evidence: 'still missing' },
    });
    expect(exec.calls).toEqual(['has alpha', 'create alpha', 'has alpha']);
    const checks = journal.entries.filter((e) => e.type === 'check');
    expect(checks.map((c) => c.type === 'check' && [c.phase, c.ok])).toEqual([
      ['check', false],
      ['verify', false],
    ]);
  });

  it('a check whose command times out does not hold', async () => {
    const exec = new FakeExecutor().on('has alpha', { timedOut: true, exitCode: undefined, durationMs: 1000 }, 1);
    const { promise, journal } = run(fakePlan(fakeStep('alpha')), exec);
    const result = await promise;
    // The timed-out check counted as "does not hold", so do ran, and verify (now answering) held.
    expect(exec.calls).toEqual(['has alpha', 'create alpha', 'has alpha']);
    expect(outcomes(result)).toEqual([['alpha', 'changed']]);
    const firstCheck = journal.entries.find((e) => e.type === 'check');
    expect(firstCheck).toMatchObject({ phase: 'check', ok: false, reason: 'timed out after 1000 ms' });
    expect(journal.entries.find((e) => e.type === 'command-end')).toMatchObject({
      timedOut: true,
      exitCode: undefined,
    });
  });

  it('a verify-only step whose check times out fails', async () => {
    const exec = new FakeExecutor().on('ping', { timedOut: true, exitCode: undefined, durationMs: 5000 });
    const ping = fakeStep('ping', {
      do: [],
      undo: [],
      verify: [{ argv: ['ping', '-c1', '198.51.100.1'], timeoutMs: 5000, expect: { exit: 0 } }],
    });
    const result = await run(fakePlan(ping), exec).promise;
    expect(result.status).toBe('failed');
    expect(result.failure?.check?.reason).toBe('timed out after 5000 ms');
  });

  it('a verify-only step (no do) whose check fails → failed, straight to diagnosing', async () => {
    const exec = new FakeExecutor()
      .on('ping', { exitCode: 1, stdout: '1 packets transmitted, 0 received, 100% packet loss\n' })
      .on('probe route', { exitCode: 2, stderr: 'RTNETLINK answers: Network is unreachable\n' });
    const ping = fakeStep('ping', {
      do: [],
      undo: [],
      verify: [{ argv: ['ping', '-c1', '-W1', '10.0.0.10'], timeoutMs: 5000, expect: { exit: 0 } }],
      diagnose: [
        probe('route', { exit: 'nonzero' }, 'the container has no route back to the host', 'ip route add default …'),
      ],
    });
    const { promise, journal } = run(fakePlan(fakeStep('alpha'), ping, fakeStep('omega')), exec);
    const result = await promise;
    expect(result.status).toBe('failed');
    expect(outcomes(result)).toEqual([
      ['alpha', 'ok'],
      ['ping', 'failed'],
    ]);
    expect(exec.calls).toEqual(['has alpha', 'ping -c1 -W1 10.0.0.10', 'probe route']);
    expect(result.failure?.findings[0]).toMatchObject({
      cause: 'the container has no route back to the host',
      evidence: 'RTNETLINK answers: Network is unreachable',
    });
    // Its single check is journaled with phase "check": there is no do, hence no verify phase.
    const pingChecks = journal.entries.filter((e) => e.type === 'check' && e.step === 'ping');
    expect(pingChecks).toEqual([expect.objectContaining({ phase: 'check', ok: false })]);
    expect(journal.entries.some((e) => e.type === 'step-start' && e.step === 'omega')).toBe(false);
  });

  it('a verify-only step whose check holds is ok', async () => {
    const exec = new FakeExecutor();
    const ping = fakeStep('ping', {
      do: [],
      undo: [],
      verify: [{ argv: ['ping'], timeoutMs: 5000, expect: { exit: 0 } }],
    });
    const result = await run(fakePlan(ping), exec).promise;
    expect(outcomes(result)).toEqual([['ping', 'ok']]);
    expect(result.status).toBe('succeeded');
  });

  it('every verify check of a step must hold; the first that does not stops the phase', async () => {
    const exec = new FakeExecutor().on('second', { exitCode: 1 });
    const step = fakeStep('alpha', {
      verify: [
        { argv: ['first'], timeoutMs: 1000, expect: { exit: 0 } },
        { argv: ['second'], timeoutMs: 1000, expect: { exit: 0 } },
        { argv: ['third'], timeoutMs: 1000, expect: { exit: 0 } },
      ],
    });
    const result = await run(fakePlan(step), exec).promise;
    expect(exec.calls).toEqual(['first', 'second', 'create alpha', 'first', 'second']);
    expect(result.status).toBe('failed');
    expect(result.failure?.check?.argv).toEqual(['second']);
  });

  it('stopAfter (--until) → stopped after that step; later steps are not run', async () => {
    const host = new FakeHost();
    const { promise, journal } = run(fakePlan(fakeStep('alpha'), fakeStep('beta'), fakeStep('gamma')), host, {
      stopAfter: 'beta',
    });
    const result = await promise;
    expect(result.status).toBe('stopped');
    expect(result.failure).toBeUndefined();
    expect(outcomes(result)).toEqual([
      ['alpha', 'changed'],
      ['beta', 'changed'],
    ]);
    expect(host.calls.some((c) => c.includes('gamma'))).toBe(false);
    expect(host.present.has('gamma')).toBe(false);
    expect(journal.entries.some((e) => e.type === 'step-start' && e.step === 'gamma')).toBe(false);
  });

  it('stopAfter the last step is still "stopped"; a failure at the stop step is "failed"', async () => {
    const stopped = await run(fakePlan(fakeStep('alpha')), new FakeHost(), { stopAfter: 'alpha' }).promise;
    expect(stopped.status).toBe('stopped');
    const exec = new FakeExecutor().on('has alpha', { exitCode: 1 });
    const failed = await run(fakePlan(fakeStep('alpha'), fakeStep('beta')), exec, { stopAfter: 'alpha' }).promise;
    expect(failed.status).toBe('failed');
  });

  it('finishedSteps → skipped, with no command run and nothing journaled for them', async () => {
    const host = new FakeHost();
    // What the earlier attempt made is there.
    host.present.add('alpha');
    host.present.add('beta');
    const { promise, journal } = run(fakePlan(fakeStep('alpha'), fakeStep('beta'), fakeStep('gamma')), host, {
      finishedSteps: ['alpha', 'beta'],
    });
    const result = await promise;
    expect(result.status).toBe('succeeded');
    expect(outcomes(result)).toEqual([
      ['alpha', 'skipped'],
      ['beta', 'skipped'],
      ['gamma', 'changed'],
    ]);
    // Then the final pass (issue 28): gamma changed the host after alpha and beta were done.
    expect(host.calls).toEqual(['has gamma', 'create gamma', 'has gamma', 'has alpha', 'has beta']);
    const steps = journal.entries
      .filter((e) => e.type === 'step-start' || e.type === 'step-end')
      .map((e) => (e as { step: string }).step);
    expect(steps).toEqual(['gamma', 'gamma']);
  });

  it('an already aborted signal → interrupted before any command', async () => {
    const controller = new AbortController();
    controller.abort();
    const host = new FakeHost();
    const { promise, journal } = run(fakePlan(fakeStep('alpha'), fakeStep('beta')), host, {
      signal: controller.signal,
    });
    const result = await promise;
    expect(result.status).toBe('interrupted');
    expect(result.failure).toBeUndefined();
    expect(host.calls).toEqual([]);
    expect(journal.entries.some((e) => e.type === 'command-start')).toBe(false);
  });

  it('a signal aborted mid-run → interrupted at the next safe point, no command after it', async () => {
    const controller = new AbortController();
    const exec = new FakeExecutor().on('has alpha', { exitCode: 1 }, 1).on('create alpha', () => {
      controller.abort(); // SIGINT arrives while `create alpha` runs
      return { exitCode: 0 };
    });
    const { promise, journal } = run(fakePlan(fakeStep('alpha'), fakeStep('beta')), exec, {
      signal: controller.signal,
    });
    const result = await promise;
    expect(result.status).toBe('interrupted');
    expect(exec.calls).toEqual(['has alpha', 'create alpha']);
    // The command in progress is journaled to its end; nothing starts after it.
    const last = journal.entries.at(-1);
    expect(last).toMatchObject({ type: 'command-end', step: 'alpha', phase: 'do', exitCode: 0 });
    expect(result.steps).toEqual([]);
  });

  it('an executor that throws aborts the run with that error (not reported as a step outcome)', async () => {
    const exec = {
      calls: [] as string[],
      async run() {
        throw new Error('executor exploded');
      },
    };
    await expect(
      executeSteps({
        plan: fakePlan(fakeStep('alpha')),
        executor: exec,
        journal: new MemoryJournal(),
        signal: undefined,
      }),
    ).rejects.toThrow('executor exploded');
  });

  it('journals a changed step in order: step-start, command-start, command-end, check, …, step-end', async () => {
    const host = new FakeHost();
    const { promise, journal } = run(fakePlan(fakeStep('alpha')), host);
    await promise;
    expect(types(journal.entries)).toEqual([
      'step-start',
      'command-start', // check
      'command-end',
      'check',
      'command-start', // do
      'command-end',
      'command-start', // verify
      'command-end',
      'check',
      'step-end',
    ]);
    const e = journal.entries;
    expect(e[0]).toEqual({ type: 'step-start', step: 'alpha', index: 0, title: 'make alpha' });
    expect(e[1]).toEqual({
      type: 'command-start',
      step: 'alpha',
      phase: 'check',
      index: 0,
      argv: ['has', 'alpha'],
      timeoutMs: 1000,
    });
    expect(e[2]).toMatchObject({
      type: 'command-end',
      step: 'alpha',
      phase: 'check',
      index: 0,
      exitCode: 1,
      stderr: 'no alpha',
    });
    expect(e[3]).toMatchObject({ type: 'check', step: 'alpha', phase: 'check', ok: false });
    expect(e[4]).toMatchObject({ type: 'command-start', phase: 'do', argv: ['create', 'alpha'] });
    expect(e[5]).toMatchObject({ type: 'command-end', phase: 'do', exitCode: 0 });
    expect(e[6]).toMatchObject({ type: 'command-start', phase: 'verify', argv: ['has', 'alpha'] });
    expect(e[7]).toMatchObject({ type: 'command-end', phase: 'verify', exitCode: 0, stdout: 'alpha\n' });
    expect(e[8]).toMatchObject({ type: 'check', phase: 'verify', ok: true });
    expect(e[9]).toMatchObject({ type: 'step-end', step: 'alpha', outcome: 'changed', doFailed: false });
  });

  it('journals step boundaries in plan order with their indexes', async () => {
    const host = new FakeHost();
    host.present.add('beta');
    const { promise, journal } = run(fakePlan(fakeStep('alpha'), fakeStep('beta'), fakeStep('gamma')), host);
    await promise;
    const bounds = journal.entries
      .filter((e) => e.type === 'step-start' || e.type === 'step-end')
      .map((e) =>
        e.type === 'step-start'
          ? `start ${e.step} #${e.index}`
          : e.type === 'step-end'
            ? `end ${e.step} ${e.outcome}`
            : '',
      );
    expect(bounds).toEqual([
      'start alpha #0',
      'end alpha changed',
      'start beta #1',
      'end beta ok',
      'start gamma #2',
      'end gamma changed',
    ]);
  });

  it('reports each step through onStep as it finishes', async () => {
    const seen: string[] = [];
    const host = new FakeHost();
    host.present.add('alpha');
    await run(fakePlan(fakeStep('alpha'), fakeStep('beta')), host, {
      onStep: (r) => seen.push(`${r.stepId}:${r.outcome}`),
    }).promise;
    expect(seen).toEqual(['alpha:ok', 'beta:changed']);
  });

  it('an empty plan succeeds with nothing run', async () => {
    const host = new FakeHost();
    const result = await run(fakePlan(), host).promise;
    expect(result).toEqual({ status: 'succeeded', steps: [], failure: undefined });
    expect(host.calls).toEqual([]);
  });
});

describe('buildRunMachine', () => {
  /** Every state node id of a machine, depth first. */
  function stateIds(node: { id: string; states: Record<string, unknown> }): string[] {
    return [node.id, ...Object.values(node.states).flatMap((child) => stateIds(child as typeof node))];
  }
  /** The step machine the run's `Step` state invokes. */
  const stepMachineOf = (machine: ReturnType<typeof buildRunMachine>) =>
    machine.implementations.actors.runStep as unknown as { root: { id: string; states: Record<string, unknown> } };

  const plan = () => fakePlan(fakeStep('alpha'), fakeStep('ping', { do: [], undo: [] }), fakeStep('gamma'));

  it('is pure: the same plan builds an equivalent machine', () => {
    const a = buildRunMachine(plan());
    const b = buildRunMachine(plan());
    expect(a).not.toBe(b);
    expect(stateIds(a.root)).toEqual(stateIds(b.root));
    expect(JSON.stringify(a.definition)).toEqual(JSON.stringify(b.definition));
    // Building does not alter the plan.
    const p = plan();
    const before = JSON.stringify(p);
    buildRunMachine(p);
    expect(JSON.stringify(p)).toBe(before);
  });

  it('walks the plan through one Step state that invokes the step machine, whose states are the lifecycle', () => {
    const machine = buildRunMachine(plan());
    expect(Object.keys(machine.root.states)).toEqual([
      'Starting',
      'Step',
      'StepEnded',
      'Verifying',
      RunEnd.succeeded,
      RunEnd.failed,
      RunEnd.stopped,
      RunEnd.aborted,
    ]);
    expect(machine.root.states.Step?.invoke.map((i) => i.src)).toEqual(['runStep']);
    expect(Object.keys(stepMachineOf(machine).root.states)).toEqual([
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
    ]);
  });

  it('has as many state nodes for 10,000 steps as for one: the plan is data in its context', () => {
    const many = fakePlan(...Array.from({ length: 10_000 }, (_, i) => fakeStep(`s${i}`)));
    const big = buildRunMachine(many);
    const small = buildRunMachine(fakePlan(fakeStep('alpha')));
    expect(stateIds(big.root)).toEqual(stateIds(small.root));
    expect(stateIds(stepMachineOf(big).root)).toEqual(stateIds(stepMachineOf(small).root));
    const context = createActor(big, { input: {} }).getSnapshot().context;
    expect(context.plan).toHaveLength(10_000);
    expect(context.plan[9_999]).toEqual({
      stepId: 's9999',
      title: 'make s9999',
      hasDo: true,
      hasWhen: false,
      hasExports: false,
      imports: undefined,
    });
  });

  it("owns its result: the output of the final state reached is the steps' result", async () => {
    const machine = buildRunMachine(plan(), {
      actors: {
        runChecks: fromPromise<ChecksOutput, ChecksInput>(async ({ input }) => ({
          // alpha is missing until done; ping never answers
          failed:
            input.stepId === 'alpha' && input.phase === 'verify'
              ? undefined
              : { argv: ['has', input.stepId], reason: 'no', evidence: undefined },
          durationMs: 2,
        })),
        runCommands: fromPromise<CommandsOutput, PhaseInput>(async () => ({
          allSucceeded: false,
          refused: undefined,
          durationMs: 3,
        })),
        runProbes: fromPromise<ProbesOutput, PhaseInput>(async () => ({
          findings: [{ cause: 'unplugged', evidence: undefined, fix: 'plug it', argv: ['probe'] }],
          durationMs: 4,
        })),
      },
    });
    const actor = createActor(machine, { input: {} });
    const output = toPromise(actor);
    actor.start();
    actor.send({ type: 'start' });
    expect(await output).toEqual({
      status: 'failed',
      steps: [
        { stepId: 'alpha', title: 'make alpha', outcome: 'changed', durationMs: 7, doFailed: true },
        { stepId: 'ping', title: 'make ping', outcome: 'failed', durationMs: 6, doFailed: false },
      ],
      failure: {
        stepId: 'ping',
        title: 'make ping',
        check: { argv: ['has', 'ping'], reason: 'no', evidence: undefined },
        findings: [{ cause: 'unplugged', evidence: undefined, fix: 'plug it', argv: ['probe'] }],
      },
    });
    expect(actor.getSnapshot().value).toBe(RunEnd.failed);
  });

  it('a refused `do` (a `requires` check did not hold) is reported as refused, not as a failed do', async () => {
    const requirement = { argv: ['is', 'alpha-parent'], reason: 'no parent', evidence: undefined };
    const machine = buildRunMachine(fakePlan(fakeStep('alpha')), {
      actors: {
        runChecks: fromPromise<ChecksOutput, ChecksInput>(async ({ input }) => ({
          failed: { argv: ['has', input.stepId], reason: 'missing', evidence: undefined },
          durationMs: 1,
        })),
        runCommands: fromPromise<CommandsOutput, PhaseInput>(async () => ({
          allSucceeded: false,
          refused: { ...requirement, refused: true },
          durationMs: 1,
        })),
        runProbes: fromPromise<ProbesOutput, PhaseInput>(async () => ({ findings: [], durationMs: 1 })),
      },
    });
    const actor = createActor(machine, { input: {} });
    const output = toPromise(actor);
    actor.start();
    actor.send({ type: 'start' });
    const result = await output;
    expect(result.steps).toEqual([
      { stepId: 'alpha', title: 'make alpha', outcome: 'failed', durationMs: 4, doFailed: false, refused: true },
    ]);
    // The refused precondition is the story of the failure, not verify's "missing" after it.
    expect(result.status).toBe('failed');
    expect('failure' in result ? result.failure?.check : undefined).toEqual({ ...requirement, refused: true });
  });

  it('an actor that throws ends the run in Aborted with that very error object', async () => {
    const boom = new Error('journal full');
    const machine = buildRunMachine(fakePlan(fakeStep('alpha'), fakeStep('beta')), {
      actors: {
        runChecks: fromPromise<ChecksOutput, ChecksInput>(async ({ input }) => {
          if (input.stepId === 'beta') throw boom;
          return { failed: undefined, durationMs: 1 };
        }),
      },
    });
    const actor = createActor(machine, { input: {} });
    const output = toPromise(actor);
    actor.start();
    actor.send({ type: 'start' });
    const result = await output;
    expect(result.status).toBe('aborted');
    expect('error' in result && result.error).toBe(boom);
    expect(result.steps.map((s) => [s.stepId, s.outcome])).toEqual([['alpha', 'ok']]);
    expect(actor.getSnapshot().value).toBe(RunEnd.aborted);
  });

  it('a different plan builds the same states, with its own steps in the context', () => {
    const a = buildRunMachine(plan());
    const b = buildRunMachine(fakePlan(fakeStep('alpha'), fakeStep('gamma')));
    expect(stateIds(a.root)).toEqual(stateIds(b.root));
    const stepsOf = (m: typeof a) =>
      createActor(m, { input: {} })
        .getSnapshot()
        .context.plan.map((s) => s.stepId);
    expect(stepsOf(a)).toEqual(['alpha', 'ping', 'gamma']);
    expect(stepsOf(b)).toEqual(['alpha', 'gamma']);
  });
});
