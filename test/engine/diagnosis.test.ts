import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise } from 'xstate';
import { checkRunbook, checkSteps, type StepCheck } from '../../src/engine/check.js';
import { formatSummary, stepCheckFormatter } from '../../src/cli/commands/check.js';
import type { RunbookError } from '../../src/errors.js';
import { parseRunbook, runbooksDir, type LoadedRunbook } from '../../src/runbook/load.js';
import { prepareRunbook } from '../../src/runbook/prepare.js';
import { thrown } from '../helpers/thrown.js';
import {
  buildRunMachine,
  RunEnd,
  type ChecksInput,
  type ChecksOutput,
  type CommandsOutput,
  type FinalPassInput,
  type FinalPassOutput,
  type PhaseInput,
  type ProbesOutput,
} from '../../src/engine/machine.js';
import { runStepProbes } from '../../src/engine/phases.js';
import { executeSteps } from '../../src/engine/execute-steps.js';
import { formatFailure } from '../../src/cli/output.js';
import type { JournalEntry } from '../../src/journal/entries.js';
import { auditFile } from '../../src/journal/paths.js';
import { MemoryJournal } from '../../src/journal/sink.js';
import type { Plan, PlannedProbe, PlannedStep } from '../../src/plan/plan.js';
import { FakeExecutor, FakeHost } from '../helpers/fake-executor.js';
import { fakePlan, fakeStep } from '../helpers/plans.js';
import { tempDirsRemovedAfterAll } from '../helpers/temp-dir.js';
import { storeAt } from '../helpers/store.js';
import { renderPlain } from '../helpers/advice.js';

/**
 * The `diagnosing` state: how a step gets into it (a failed verify after do, or a failed check
 * of a verify-only step), what it does there (probes in order, the first match names the
 * cause, journaled as a `finding`), and how it leaves (always to `failed`, then the run's
 * Failed end; to Aborted when a probe cannot run). Then `runbook check`'s engine, which runs
 * the same checks and probes without ever doing anything. Fake executors, no kernel, no disk
 * (except one temp state dir for the audit line).
 */

const tempDir = tempDirsRemovedAfterAll('runbook-audit-');

function probe(
  name: string,
  when: PlannedProbe['when'],
  cause: string,
  fix?: string,
  independent = false,
): PlannedProbe {
  return { argv: ['probe', name], timeoutMs: 1000, when, cause, fix, independent };
}

/** Three probes: p1 never matches here, p2 and p3 both would; p2 comes first. */
const threeProbes = [
  probe('p1', { exit: 'nonzero' }, 'cause one', 'fix one'),
  probe('p2', { output_contains: 'missing' }, 'the cable is missing', 'plug it in'),
  probe('p3', { output_contains: 'missing' }, 'a later, more specific cause', 'never shown'),
];

function probeExecutor(): FakeExecutor {
  return new FakeExecutor()
    .on('probe p1', { exitCode: 0, stdout: 'all fine\n' })
    .on('probe p2', { exitCode: 0, stdout: 'header\nthe cable is missing\n' })
    .on('probe p3', { exitCode: 0, stdout: 'the cable is missing, again\n' });
}

const phasesRun = (entries: readonly JournalEntry[]) =>
  entries.flatMap((e) => (e.type === 'command-start' ? [`${e.step}:${e.phase}:${e.argv.join(' ')}`] : []));
const findingsOf = (entries: readonly JournalEntry[]) => entries.filter((e) => e.type === 'finding');

/**
 * Runs the real machine with stub actors and records every state value it passes through,
 * so the tests can assert the transitions themselves, not only their effects. While the run
 * is in `Step`, the state is the step machine's, named "<step>.<state>" (as the run's
 * `Step.<state>`, for the step at hand).
 */
async function traceStates(
  plan: Plan,
  impl: {
    checks: (input: PhaseInput & { phase: string }) => boolean;
    probes?: (stepId: string) => number;
    probesThrow?: boolean;
  },
) {
  const values: string[] = [];
  const machine = buildRunMachine(plan, {
    actors: {
      runChecks: fromPromise<ChecksOutput, ChecksInput>(async ({ input }) => ({
        failed: impl.checks(input) ? undefined : { argv: ['has', input.stepId], reason: 'stub', evidence: undefined },
        durationMs: 0,
      })),
      runCommands: fromPromise<CommandsOutput, PhaseInput>(async () => ({
        allSucceeded: true,
        refused: undefined,
        durationMs: 0,
      })),
      runProbes: fromPromise<ProbesOutput, PhaseInput>(async ({ input }) => {
        if (impl.probesThrow) throw new Error('probe could not run');
        const finding = { cause: 'stub', evidence: undefined, fix: undefined, argv: ['probe'] };
        return { findings: Array.from({ length: impl.probes?.(input.stepId) ?? 0 }, () => finding), durationMs: 0 };
      }),
      verifyAgain: fromPromise<FinalPassOutput, FinalPassInput>(async () => ({ failure: undefined })),
    },
  });
  const note = (value: string) => {
    if (values.at(-1) !== value) values.push(value);
  };
  const actor = createActor(machine, {
    input: {},
    inspect: (event) => {
      if (event.type !== '@xstate.snapshot') return;
      const snapshot = event.snapshot as { value?: unknown; status?: unknown; context?: { stepId?: unknown } };
      if (event.actorRef === actor) {
        // `Step` is shown by the step machine's own states; StepEnded is passed at once.
        if (snapshot.value !== 'Step') note(String(snapshot.value));
      } else if (typeof snapshot.context?.stepId === 'string' && snapshot.status === 'active') {
        // A step's final state (its outcome) is inspected only after the run has moved on; the
        // outcome is in the step's report, which other tests assert.
        note(`${snapshot.context.stepId}.${String(snapshot.value)}`);
      }
    },
  });
  await new Promise<void>((resolve) => {
    actor.subscribe({ complete: () => resolve(), error: () => resolve() });
    actor.start();
    actor.send({ type: 'start' });
  });
  return { values, final: actor.getSnapshot().value as string };
}

describe('into diagnosing', () => {
  it('verify fails after do → diagnosing → failed → Failed (state trace of the real machine)', async () => {
    const trace = await traceStates(fakePlan(fakeStep('alpha'), fakeStep('beta')), {
      checks: () => false,
      probes: () => 1,
    });
    expect(trace.values).toEqual([
      'Starting',
      'alpha.check',
      'alpha.do',
      'alpha.verify',
      'alpha.diagnosing',
      RunEnd.failed,
    ]);
    expect(trace.final).toBe(RunEnd.failed);
  });

  it('a verify-only step whose check fails goes straight from check to diagnosing (no do, no verify)', async () => {
    const plan = fakePlan(fakeStep('ping', { do: [], undo: [] }));
    const trace = await traceStates(plan, { checks: () => false });
    expect(trace.values).toEqual(['Starting', 'ping.check', 'ping.diagnosing', RunEnd.failed]);
  });

  it('a step whose check holds never enters diagnosing', async () => {
    const trace = await traceStates(fakePlan(fakeStep('alpha')), { checks: () => true });
    expect(trace.values).toEqual(['Starting', 'alpha.check', 'Verifying', RunEnd.succeeded]);
  });

  it('a step whose verify holds after do never enters diagnosing', async () => {
    const trace = await traceStates(fakePlan(fakeStep('alpha')), { checks: (i) => i.phase === 'verify' });
    expect(trace.values).toEqual([
      'Starting',
      'alpha.check',
      'alpha.do',
      'alpha.verify',
      'Verifying',
      RunEnd.succeeded,
    ]);
  });

  it('diagnosing leaves to failed whether or not a probe matched, and the run ends Failed either way', async () => {
    for (const findings of [0, 1]) {
      const trace = await traceStates(fakePlan(fakeStep('alpha')), { checks: () => false, probes: () => findings });
      expect(trace.values.slice(-2)).toEqual(['alpha.diagnosing', RunEnd.failed]);
    }
  });

  it('a failure at the --until step still ends Failed, not Stopped (stepFailed is tried first)', async () => {
    const machineTrace: string[] = [];
    const exec = new FakeExecutor().on('has alpha', { exitCode: 1 });
    const result = await executeSteps({
      plan: fakePlan(fakeStep('alpha')),
      executor: exec,
      journal: new MemoryJournal(),
      signal: undefined,
      stopAfter: 'alpha',
      onStep: (s) => machineTrace.push(s.outcome),
    });
    expect(result.status).toBe('failed');
    expect(machineTrace).toEqual(['failed']);
  });

  it('a probe that cannot run (the executor throws) leaves diagnosing for Aborted', async () => {
    const trace = await traceStates(fakePlan(fakeStep('alpha')), { checks: () => false, probesThrow: true });
    expect(trace.values.slice(-2)).toEqual(['alpha.diagnosing', RunEnd.aborted]);
  });
});

describe('in diagnosing: the probes', () => {
  it('run in order after the failed verify, and stop at the first match, which names the cause', async () => {
    const exec = probeExecutor().on('has alpha', { exitCode: 1, stderr: 'no alpha\n' });
    const journal = new MemoryJournal();
    const result = await executeSteps({
      plan: fakePlan(fakeStep('alpha', { diagnose: threeProbes }), fakeStep('beta')),
      executor: exec,
      journal,
      signal: undefined,
    });

    expect(result.status).toBe('failed');
    expect(phasesRun(journal.entries)).toEqual([
      'alpha:check:has alpha',
      'alpha:do:create alpha',
      'alpha:verify:has alpha',
      'alpha:diagnose:probe p1',
      'alpha:diagnose:probe p2',
    ]);
    // p3 would match too, but the first match wins.
    expect(exec.calls).not.toContain('probe p3');
    expect(result.failure?.findings).toEqual([
      { cause: 'the cable is missing', evidence: 'the cable is missing', fix: 'plug it in', argv: ['probe', 'p2'] },
    ]);
  });

  it('journals the finding between the probe that matched and the step-end', async () => {
    const exec = probeExecutor().on('has alpha', { exitCode: 1 });
    const journal = new MemoryJournal();
    await executeSteps({
      plan: fakePlan(fakeStep('alpha', { diagnose: threeProbes })),
      executor: exec,
      journal,
      signal: undefined,
    });

    expect(findingsOf(journal.entries)).toEqual([
      {
        type: 'finding',
        step: 'alpha',
        index: 1,
        cause: 'the cable is missing',
        evidence: 'the cable is missing',
        fix: 'plug it in',
        argv: ['probe', 'p2'],
      },
    ]);
    const types = journal.entries.map((e) => e.type);
    const finding = types.indexOf('finding');
    expect(journal.entries[finding - 1]).toMatchObject({ type: 'command-end', phase: 'diagnose', index: 1 });
    expect(journal.entries[finding + 1]).toMatchObject({ type: 'step-end', step: 'alpha', outcome: 'failed' });
  });

  it('the order of the probes decides: swapped, the other cause is named', async () => {
    const exec = probeExecutor().on('has alpha', { exitCode: 1 });
    const swapped = [threeProbes[2]!, threeProbes[1]!];
    const result = await executeSteps({
      plan: fakePlan(fakeStep('alpha', { diagnose: swapped })),
      executor: exec,
      journal: new MemoryJournal(),
      signal: undefined,
    });
    expect(result.failure?.findings.map((f) => f.cause)).toEqual(['a later, more specific cause']);
  });

  it('a verify-only step is diagnosed after its check: the probes follow the check directly', async () => {
    const exec = probeExecutor().on('has ping', { exitCode: 1, stdout: '1 packets transmitted, 0 received\n' });
    const journal = new MemoryJournal();
    const result = await executeSteps({
      plan: fakePlan(fakeStep('ping', { do: [], undo: [], diagnose: threeProbes })),
      executor: exec,
      journal,
      signal: undefined,
    });
    expect(result.status).toBe('failed');
    expect(phasesRun(journal.entries)).toEqual([
      'ping:check:has ping',
      'ping:diagnose:probe p1',
      'ping:diagnose:probe p2',
    ]);
    expect(result.failure?.check).toMatchObject({
      argv: ['has', 'ping'],
      evidence: '1 packets transmitted, 0 received',
    });
    expect(findingsOf(journal.entries)).toHaveLength(1);
  });

  it('no probes at all → failed with no finding; the report says no probe matched', async () => {
    const exec = new FakeExecutor().on('has alpha', { exitCode: 1, stderr: 'no alpha\n' });
    const journal = new MemoryJournal();
    const result = await executeSteps({
      plan: fakePlan(fakeStep('alpha', { diagnose: [] })),
      executor: exec,
      journal,
      signal: undefined,
    });
    expect(result.status).toBe('failed');
    expect(result.failure?.findings).toEqual([]);
    expect(findingsOf(journal.entries)).toEqual([]);
    expect(journal.entries.some((e) => e.type === 'command-start' && e.phase === 'diagnose')).toBe(false);
    expect(journal.entries.at(-1)).toMatchObject({ type: 'step-end', step: 'alpha', outcome: 'failed' });
    const text = formatFailure(result.failure!, 'RUN', renderPlain).join('\n');
    expect(text).toContain('cause:    no diagnostic probe matched');
    expect(text).toContain('result:   expected exit status 0, got 1 — "no alpha"');
  });

  it('probes that all miss → every probe ran, failed with no finding', async () => {
    const exec = new FakeExecutor().on('has alpha', { exitCode: 1 }).on('probe', { exitCode: 0, stdout: 'fine\n' });
    const journal = new MemoryJournal();
    const result = await executeSteps({
      plan: fakePlan(fakeStep('alpha', { diagnose: threeProbes })),
      executor: exec,
      journal,
      signal: undefined,
    });
    expect(result.failure?.findings).toEqual([]);
    expect(exec.calls.filter((c) => c.startsWith('probe'))).toEqual(['probe p1', 'probe p2', 'probe p3']);
    expect(findingsOf(journal.entries)).toEqual([]);
  });

  it('a probe that times out or cannot start does not match (unless its expectation says so)', async () => {
    const exec = new FakeExecutor()
      .on('has alpha', { exitCode: 1 })
      .on('probe p1', { exitCode: undefined, signal: 'SIGTERM', timedOut: true })
      .on('probe p2', { exitCode: undefined, startError: 'spawn probe ENOENT', stdout: 'missing' });
    const result = await executeSteps({
      plan: fakePlan(fakeStep('alpha', { diagnose: threeProbes.slice(0, 2) })),
      executor: exec,
      journal: new MemoryJournal(),
      signal: undefined,
    });
    expect(result.failure?.findings).toEqual([]);
  });

  it('an interrupt during diagnosing stops at the next safe point: interrupted, not failed', async () => {
    const controller = new AbortController();
    const exec = new FakeExecutor().on('has alpha', { exitCode: 1 }).on('probe p1', () => {
      controller.abort();
      return { exitCode: 0 };
    });
    const journal = new MemoryJournal();
    const result = await executeSteps({
      plan: fakePlan(fakeStep('alpha', { diagnose: threeProbes })),
      executor: exec,
      journal,
      signal: controller.signal,
    });
    expect(result.status).toBe('interrupted');
    expect(exec.calls).toEqual(['has alpha', 'create alpha', 'has alpha', 'probe p1']);
    expect(findingsOf(journal.entries)).toEqual([]);
  });

  it('runStepProbes (shared with `runbook check`) is the same function the machine uses', async () => {
    const journal = new MemoryJournal();
    const step: PlannedStep = fakeStep('alpha', { diagnose: threeProbes });
    const findings = await runStepProbes({ executor: probeExecutor(), journal, signal: undefined }, step);
    expect(findings.map((f) => f.cause)).toEqual(['the cable is missing']);
    expect(findingsOf(journal.entries)).toHaveLength(1);
  });
});

describe('runbook check (engine): verify checks and probes only', () => {
  const probesFor = (id: string): PlannedProbe[] => [
    probe(`missing-${id}`, { exit: 'nonzero' }, `${id} is missing`, `create ${id}`),
  ];
  const plan = () =>
    fakePlan(
      fakeStep('a', { diagnose: probesFor('a') }),
      fakeStep('b', { diagnose: probesFor('b') }),
      fakeStep('c', { diagnose: probesFor('c') }),
      fakeStep('ping', { do: [], undo: [], diagnose: probesFor('ping') }),
    );
  /** `probe missing-X` fails (matches) when X is absent from the fake host. */
  function host(...present: string[]) {
    const fake = new FakeHost();
    for (const p of present) fake.present.add(p);
    const run = fake.run.bind(fake);
    fake.run = async (request) => {
      const [verb, what] = request.argv;
      if (verb === 'probe' && what?.startsWith('missing-')) {
        const thing = what.slice('missing-'.length);
        return run({ ...request, argv: ['has', thing] });
      }
      return run(request);
    };
    return fake;
  }

  it('all hold → ok; only verify commands ran, no probe', async () => {
    const fake = host('a', 'b', 'c', 'ping');
    const journal = new MemoryJournal();
    const result = await checkSteps({ plan: plan(), executor: fake, journal, signal: undefined });
    expect(result.status).toBe('ok');
    expect(result.steps.map((s) => [s.stepId, s.ok])).toEqual([
      ['a', true],
      ['b', true],
      ['c', true],
      ['ping', true],
    ]);
    expect(fake.calls).toEqual(['has a', 'has b', 'has c', 'has ping']);
  });

  it('checks every step even after one fails, diagnoses each failing one, and changes nothing', async () => {
    const fake = host('a', 'c');
    const journal = new MemoryJournal();
    const seen: string[] = [];
    const result = await checkSteps({
      plan: plan(),
      executor: fake,
      journal,
      signal: undefined,
      onStep: (s) => seen.push(`${s.stepId}:${s.ok}`),
    });

    expect(result.status).toBe('not-ok');
    expect(seen).toEqual(['a:true', 'b:false', 'c:true', 'ping:false']);
    expect(result.steps.find((s) => s.stepId === 'b')).toMatchObject({
      ok: false,
      check: { argv: ['has', 'b'], reason: 'expected exit status 0, got 1', evidence: 'no b' },
      findings: [{ cause: 'b is missing', fix: 'create b', argv: ['probe', 'missing-b'], evidence: 'no b' }],
    });
    // Nothing but checks and probes: no do, no undo, no capture; the fake host is unchanged.
    expect(phasesRun(journal.entries).map((l) => l.split(':')[1])).toEqual([
      'verify',
      'verify',
      'diagnose',
      'verify',
      'verify',
      'diagnose',
    ]);
    expect(fake.calls.some((c) => c.startsWith('create') || c.startsWith('delete'))).toBe(false);
    expect([...fake.present].sort()).toEqual(['a', 'c']);
    expect(findingsOf(journal.entries).map((f) => f.type === 'finding' && f.step)).toEqual(['b', 'ping']);
  });

  it('interrupted → stops at once, reports the steps checked before the interrupt', async () => {
    const controller = new AbortController();
    const fake = host('a', 'b', 'c', 'ping');
    const run = fake.run.bind(fake);
    fake.run = async (request) => {
      if (request.argv.join(' ') === 'has b') controller.abort();
      return run(request);
    };
    const result = await checkSteps({
      plan: plan(),
      executor: fake,
      journal: new MemoryJournal(),
      signal: controller.signal,
    });
    expect(result.status).toBe('interrupted');
    // The interrupt came while b's check ran: that result proves nothing (Ctrl-C reaches the
    // command too), so b is not reported, only a.
    expect(result.steps.map((s) => s.stepId)).toEqual(['a']);
  });

  it('checkRunbook appends one audit line per check to <stateDir>/audit.ndjson', async () => {
    const stateDir = tempDir();
    const runbook = {
      spec: { name: 'fake' },
      file: '/x/fake.yaml',
      source: '',
      includes: [],
      hash: 'abc123',
    } as unknown as LoadedRunbook;
    const params = { container: 'c1' };
    const first = await checkRunbook({
      runbook,
      params,
      plan: plan(),
      store: storeAt(stateDir),
      executor: host('a', 'c'),
    });
    const second = await checkRunbook({
      runbook,
      params,
      plan: plan(),
      store: storeAt(stateDir),
      executor: host('a', 'b', 'c', 'ping'),
    });

    expect(first.auditFile).toBe(auditFile(stateDir));
    const lines = readFileSync(auditFile(stateDir), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      type: 'check',
      runbook: 'fake',
      runbookFile: '/x/fake.yaml',
      runbookHash: 'abc123',
      params,
      status: 'not-ok',
      summary: { steps: 4, checked: 4, holding: 2, failing: 2 },
      causes: ['b is missing', 'ping is missing'],
    });
    expect(lines[0]).toHaveProperty('user.uid');
    expect(lines[0]).toHaveProperty('host.netns');
    expect(new Date(String(lines[0]!.time)).getTime()).not.toBeNaN();
    expect(
      (lines[0]!.steps as Array<{ step: string; findings: unknown[] }>).map((s) => [s.step, s.findings.length]),
    ).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 0],
      ['ping', 1],
    ]);
    expect(lines[1]).toMatchObject({ status: 'ok', causes: [], summary: { holding: 4, failing: 0 } });
    expect(second.record).toEqual(lines[1]);
  });
});

describe('a diagnosis per failing step: probes that concern their steps (issue 18)', () => {
  /** basic: stops at its match; two independent causes; a later basic probe. */
  const probes = [
    probe('basic-absent', { exit: 'nonzero' }, 'the basic thing is missing', 'make it'),
    probe('route-there', { exit: 'nonzero' }, 'no route there', 'ip route add there', true),
    probe('route-back', { exit: 'nonzero' }, 'no route back', 'ip route add back', true),
    probe('specific', { exit: 'nonzero' }, 'a specific consequence', 'never shown'),
  ];
  const executorFailing = (...failing: string[]) => {
    const exec = new FakeExecutor();
    for (const name of failing) exec.on(`probe ${name}`, { exitCode: 1, stderr: `${name}\n` });
    return exec;
  };

  it('a basic probe that matches is the root cause: nothing after it runs', async () => {
    const exec = executorFailing('basic-absent', 'route-there', 'route-back', 'specific');
    const step = fakeStep('alpha', { diagnose: probes });
    const findings = await runStepProbes({ executor: exec, journal: new MemoryJournal(), signal: undefined }, step);
    expect(findings.map((f) => f.cause)).toEqual(['the basic thing is missing']);
    expect(exec.calls).toEqual(['probe basic-absent']);
  });

  it('independent probes each name their cause; the next basic probe is not run once one matched', async () => {
    const exec = executorFailing('route-there', 'route-back', 'specific');
    const journal = new MemoryJournal();
    const step = fakeStep('alpha', { diagnose: probes });
    const findings = await runStepProbes({ executor: exec, journal, signal: undefined }, step);
    expect(findings.map((f) => f.cause)).toEqual(['no route there', 'no route back']);
    expect(exec.calls).toEqual(['probe basic-absent', 'probe route-there', 'probe route-back']);
    expect(findingsOf(journal.entries)).toHaveLength(2);
  });

  it('single-container: each routing step gets its own probes, the pings both routes, in the order to apply them', async () => {
    const { plan } = prepareRunbook('single-container', []);
    const causes = (id: string) => plan.steps.find((s) => s.id === id)?.diagnose.map((p) => p.cause) ?? [];
    const hostRoute = 'the host has no route to the container subnet 172.16.0.0/24 through veth1';
    const routeBack = 'the container container1 has no route back to the host 10.0.0.10';
    // host-route fails when its route is missing, or when a route of the host is in the way
    // (then the "no route" probe does not match: something else routes the subnet).
    const inTheWay =
      'the host already routes 172.16.0.0/24 (or a network that holds it) through another link: a route through veth1 would take that traffic over';
    expect(causes('host-route')).toContain(inTheWay);
    expect(causes('host-route')).toContain(hostRoute);
    expect(causes('host-route')).not.toContain(routeBack);
    expect(causes('container-default-route')).toContain(routeBack);
    expect(causes('container-default-route')).not.toContain(hostRoute);
    for (const ping of ['ping-container-from-host', 'ping-host-from-container']) {
      const list = causes(ping);
      expect(list.indexOf(hostRoute)).toBeGreaterThan(-1);
      expect(list.indexOf(hostRoute)).toBeLessThan(list.indexOf(routeBack));
    }
    // The basic probes still concern every step, so a missing namespace stays the root cause.
    for (const step of plan.steps) expect(step.diagnose[0]?.cause).toBe('the namespace container1 does not exist');
  });

  it('a probe concerning a step that does not exist is refused when the runbook is read (exit 2)', () => {
    const source = readFileSync(path.join(runbooksDir, 'single-container.yaml'), 'utf8').replace(
      'concerns: [host-route]',
      'concerns: [host-rout]',
    );
    const error = thrown(() => parseRunbook(source, '/x/single-container.yaml')) as RunbookError;
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('a diagnose probe concerns "host-rout", which is not a step here');
  });

  it('check prints a cause in full once and refers to it after; the summary numbers the causes in step order', () => {
    const finding = (cause: string, fix: string) => ({ cause, fix, evidence: `${cause}!`, argv: ['probe', cause] });
    const there = finding('no route there', 'ip route add there dev x');
    const back = finding('no route back', 'ip route add back dev y');
    const failing = (stepId: string, findings: ReturnType<typeof finding>[]): StepCheck => ({
      stepId,
      title: stepId,
      ok: false,
      check: { argv: ['has', stepId], reason: 'expected exit status 0, got 1', evidence: undefined },
      findings,
      durationMs: 1,
    });
    const steps = [failing('route-there', [there]), failing('route-back', [back]), failing('ping', [there, back])];
    const format = stepCheckFormatter(renderPlain);
    const text = steps.flatMap((s) => format(s)).join('\n');
    expect(text.match(/fix: {6}ip route add there dev x/g)).toHaveLength(1);
    expect(text.match(/fix: {6}ip route add back dev y/g)).toHaveLength(1);
    expect(text).toContain('cause:    no route there (evidence and fix: under route-there above)');
    expect(text).toContain('cause:    no route back (evidence and fix: under route-back above)');

    const summary = formatSummary(steps, 5, 'not-ok', 'runbook run demo', renderPlain);
    expect(summary).toEqual([
      'not ok: 3 of 5 steps do not hold (route-there, route-back, ping)',
      '  2 causes; apply their fixes in this order:',
      '  1. cause: no route there',
      '     fix:   ip route add there dev x',
      '  2. cause: no route back',
      '     fix:   ip route add back dev y',
      'next: apply the fixes, in this order, or let `runbook run demo` redo what is missing; then check again',
    ]);
  });
});
