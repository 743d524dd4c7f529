import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRunHistory } from '../../src/engine/run-history.js';
import { resumeRun } from '../../src/engine/resume.js';
import { rollbackRun } from '../../src/engine/rollback.js';
import { runRunbook } from '../../src/engine/run.js';
import { extractValue } from '../../src/engine/step-commands.js';
import type { JournalLine } from '../../src/journal/entries.js';
import { journalFile } from '../../src/journal/paths.js';
import { readJournal } from '../../src/journal/reader.js';
import { loadRunbook, runbookHashNow, type LoadedRunbook } from '../../src/runbook/load.js';
import { resolveParams } from '../../src/runbook/params.js';
import { FakeExecutor } from '../helpers/fake-executor.js';
import { tempDirsRemovedAfterAll } from '../helpers/temp-dir.js';
import { storeAt } from '../helpers/store.js';

/**
 * Issue 12's command options on the real engine with a FakeExecutor and a temp state dir: stdin,
 * ok_exit, if / unless, retries, extracting captures used in do and undo, undo: none. Each is
 * checked in the journal too, since resume and rollback decide from it alone.
 */

const tempDir = tempDirsRemovedAfterAll('runbook-options-');

function runbookOf(source: string): LoadedRunbook {
  const f = path.join(tempDir(), 'demo.yaml');
  writeFileSync(f, source);
  return loadRunbook(f);
}

async function run(source: string, executor: FakeExecutor, stateDir = tempDir()) {
  const runbook = runbookOf(source);
  const params = resolveParams(runbook.spec, {}, runbook.file);
  const result = await runRunbook({ runbook, params, store: storeAt(stateDir), executor });
  const lines = readJournal(journalFile(stateDir, result.runId)).lines;
  return { result, lines, stateDir };
}

const linesOf = (stateDir: string, runId: string) => readJournal(journalFile(stateDir, runId)).lines;
const ofType = <T extends JournalLine['type']>(lines: readonly JournalLine[], type: T) =>
  lines.filter((l): l is Extract<JournalLine, { type: T }> => l.type === type);

describe('stdin', () => {
  const source = `name: demo
description: x
parameters:
  file: { type: path, default: /tmp/demo/notes }
  line: { type: string, default: "net.ipv4.ip_forward = 1" }
steps:
  - id: line
    title: x
    why: x
    do:
      - { run: [tee, -a, --, "{{file}}"], stdin: "{{line}}\\n" }
    verify: [{ run: [grep, -qxF, --, "{{line}}", "{{file}}"] }]
    undo: [[truncate, -s, "0", "{{file}}"]]
`;

  it('is given to the command (stdin closed otherwise) and recorded in its command-start', async () => {
    const executor = new FakeExecutor().on('grep', { exitCode: 1 }, 1);
    const { result, lines } = await run(source, executor);
    expect(result.status).toBe('succeeded');
    const tee = executor.calls.indexOf('tee -a -- /tmp/demo/notes');
    expect(executor.inputs[tee]).toBe('net.ipv4.ip_forward = 1\n');
    expect(executor.inputs.filter((i) => i !== undefined)).toHaveLength(1);
    const start = ofType(lines, 'command-start').find((l) => l.phase === 'do');
    expect(start?.stdin).toBe('net.ipv4.ip_forward = 1\n');
  });
});

describe('ok_exit', () => {
  const source = `name: demo
description: x
steps:
  - id: chain
    title: x
    why: x
    do:
      - { run: [make-chain], ok_exit: [0, 1] }
      - [fill-chain]
    verify: [{ run: [has-chain] }]
    undo: [[del-chain]]
`;

  it('an accepted non-zero status is success: the next command runs, the journal says accepted, and the step counts as changed', async () => {
    const executor = new FakeExecutor()
      .on('make-chain', { exitCode: 1, stderr: 'Chain already exists.' })
      .on('has-chain', { exitCode: 1 }, 1);
    const { result, lines, stateDir } = await run(source, executor);
    expect(result.steps.map((s) => [s.outcome, s.doFailed])).toEqual([['changed', false]]);
    expect(executor.calls).toContain('fill-chain');
    const end = ofType(lines, 'command-end').find((l) => l.phase === 'do' && l.index === 0);
    expect(end).toMatchObject({ exitCode: 1, accepted: true });
    expect(readRunHistory(lines).changedSteps).toEqual(['chain']);
    executor.on('has-chain', { exitCode: 1 });
    const rolledBack = await rollbackRun({ store: storeAt(stateDir), runId: result.runId, executor });
    expect(rolledBack.kind === 'rollback' && rolledBack.planned).toEqual(['chain']);
  });

  it('a status not in the list is a failure, journaled as not accepted, and changes nothing in the history', async () => {
    const executor = new FakeExecutor().on('make-chain', { exitCode: 2 }).on('has-chain', { exitCode: 1 });
    const { result, lines } = await run(source, executor);
    expect(result.status).toBe('failed');
    expect(executor.calls).not.toContain('fill-chain');
    expect(ofType(lines, 'command-end').find((l) => l.phase === 'do')).toMatchObject({ exitCode: 2, accepted: false });
    expect(readRunHistory(lines).changedSteps).toEqual([]);
  });

  it('a journal whose command-end has no "accepted" (written before ok_exit) reads as before: exit 0 changed', () => {
    const base = {
      step: 'a',
      phase: 'do' as const,
      index: 0,
      signal: undefined,
      timedOut: false,
      startError: undefined,
    };
    const envelope = { level: 30, time: '', seq: 0, prev: '', msg: '' };
    const lines = [
      { type: 'run-start', ...envelope },
      { type: 'command-end', ...base, exitCode: 0, durationMs: 1, stdout: '', stderr: '', ...envelope },
      { type: 'command-end', ...base, step: 'b', exitCode: 2, durationMs: 1, stdout: '', stderr: '', ...envelope },
    ] as unknown as JournalLine[];
    expect(readRunHistory(lines).changedSteps).toEqual(['a']);
  });
});

describe('if / unless', () => {
  // "Add, or change if it exists" in one step: macvlan's mode.
  const source = `name: demo
description: x
steps:
  - id: macvlan
    title: x
    why: x
    do:
      - { run: [ip, link, add, mv0, type, macvlan, mode, bridge], unless: { run: [ip, link, show, mv0] } }
      - { run: [ip, link, set, mv0, type, macvlan, mode, bridge], if: { run: [ip, link, show, mv0], expect: { not: { output_contains: "mode bridge" } } } }
    verify: [{ run: [ip, -d, link, show, mv0], expect: { output_contains: "macvlan mode bridge" } }]
    undo: [[ip, link, del, mv0]]
`;

  it('a link that exists in the wrong mode: add is skipped (journaled why), set runs', async () => {
    let mode = 'private';
    const executor = new FakeExecutor()
      .on('ip link set', () => ((mode = 'bridge'), {}))
      .on('ip -d link show', () => ({ stdout: `mv0: macvlan mode ${mode}\n` }))
      .on('ip link show mv0', () => ({ stdout: `mv0 mode ${mode}\n` }))
      .on('ip link add', { exitCode: 2, stderr: 'File exists' });
    const { result, lines } = await run(source, executor);
    expect(result.steps.map((s) => [s.outcome, s.doFailed])).toEqual([['changed', false]]);
    expect(executor.calls.filter((c) => c.startsWith('ip link add'))).toEqual([]);
    expect(ofType(lines, 'command-skipped')).toMatchObject([
      { step: 'macvlan', phase: 'do', index: 0, reason: 'its "unless" holds' },
    ]);
    expect(
      ofType(lines, 'check')
        .filter((c) => c.phase === 'do-condition')
        .map((c) => c.ok),
    ).toEqual([true, true]);
    // The set ran and succeeded: the run changed the host.
    expect(readRunHistory(lines).changedSteps).toEqual(['macvlan']);
  });

  it('no link: add runs, set is skipped because its "if" does not hold', async () => {
    let exists = false;
    const executor = new FakeExecutor()
      .on('ip link add', () => ((exists = true), {}))
      .on('ip -d link show', () => (exists ? { stdout: 'macvlan mode bridge\n' } : { exitCode: 1 }))
      .on('ip link show mv0', () => (exists ? { stdout: 'mode bridge\n' } : { exitCode: 1, stderr: 'does not exist' }));
    const { result, lines } = await run(source, executor);
    expect(result.status).toBe('succeeded');
    expect(executor.calls.filter((c) => c.startsWith('ip link set'))).toEqual([]);
    expect(ofType(lines, 'command-skipped').map((l) => [l.index, l.reason.split(':')[0]])).toEqual([
      [1, 'its "if" does not hold'],
    ]);
  });

  it('a step whose every do command was skipped did not change the host: rollback leaves it', async () => {
    const executor = new FakeExecutor()
      .on('ip link show mv0', { stdout: 'mode bridge\n' })
      .on('ip -d link show', { exitCode: 1 });
    const { result, lines, stateDir } = await run(source, executor);
    expect(result.status).toBe('failed');
    expect(ofType(lines, 'command-start').filter((l) => l.phase === 'do')).toEqual([]);
    expect(readRunHistory(lines).changedSteps).toEqual([]);
    // Not a default target, and named by id it has nothing to undo.
    expect((await rollbackRun({ store: storeAt(stateDir), runId: undefined, executor })).kind).toBe('nothing');
    const named = await rollbackRun({ store: storeAt(stateDir), runId: result.runId, executor });
    expect(named.kind === 'rollback' && named.planned).toEqual([]);
  });
});

describe('captured values in a condition', () => {
  const source = `name: demo
description: x
steps:
  - id: set
    title: x
    why: x
    capture:
      old: [get]
    do:
      - { run: [set, new], if: { run: [show], expect: { output_matches: "^{{old}}$" } } }
    verify: [{ run: [is-new] }]
    undo:
      - { run: [set, "{{old}}"], unless: { run: [show], expect: { output_contains: "{{old}}" } } }
`;

  it('are filled in (and, inside output_matches, match only themselves: a.b is not a pattern)', async () => {
    const ran = async (shown: string) => {
      const executor = new FakeExecutor()
        .on('get', { stdout: 'a.b\n' })
        .on('show', { stdout: `${shown}\n` })
        .on('is-new', { exitCode: 1 }, 1);
      const { lines } = await run(source, executor);
      const condition = ofType(lines, 'command-start').find((l) => l.phase === 'do-condition');
      expect(condition?.argv).toEqual(['show']);
      return executor.calls.includes('set new');
    };
    expect(await ran('a.b')).toBe(true);
    expect(await ran('axb')).toBe(false);
  });

  it('rollback fills them into the undo condition from the journal', async () => {
    const executor = new FakeExecutor()
      .on('get', { stdout: 'a.b\n' })
      .on('show', { stdout: 'a.b\n' })
      .on('is-new', { exitCode: 1 }, 1);
    const { result, stateDir } = await run(source, executor);
    executor.on('is-new', { exitCode: 1 });
    executor.calls.length = 0;
    await rollbackRun({ store: storeAt(stateDir), runId: result.runId, executor });
    // "show" still contains a.b, so the restore is skipped: the condition saw the captured value.
    expect(executor.calls).toEqual(['show', 'is-new']);
    const skipped = ofType(linesOf(stateDir, result.runId), 'command-skipped').filter((l) => l.phase === 'undo');
    expect(skipped.map((l) => l.reason)).toEqual(['its "unless" holds']);
  });
});

describe('retries', () => {
  const source = `name: demo
description: x
steps:
  - id: route
    title: x
    why: x
    do: [[add-route]]
    verify: [{ run: [ping-it], retries: 3, delay: 0.01 }]
    undo: [[del-route]]
  - id: ping
    title: x
    why: x
    verify: [{ run: [ping-other], retries: 1 }]
`;

  it('verify is retried until it holds, each attempt journaled with its number', async () => {
    const executor = new FakeExecutor()
      .on('ping-it', { exitCode: 1 }, 3) // the check, then two verify attempts fail
      .on('ping-other', { exitCode: 1 }, 1);
    const { result, lines } = await run(source, executor);
    expect(result.status).toBe('succeeded');
    const verdicts = ofType(lines, 'check').filter((c) => c.step === 'route');
    // The check before do is not retried: a missing effect is simply done.
    expect(verdicts.map((c) => [c.phase, c.attempt, c.ok])).toEqual([
      ['check', undefined, false],
      ['verify', 1, false],
      ['verify', 2, false],
      ['verify', 3, true],
    ]);
    expect(
      ofType(lines, 'command-start')
        .filter((c) => c.step === 'route' && c.phase === 'verify')
        .map((c) => c.attempt),
    ).toEqual([1, 2, 3]);
    // A step without do: its check is its verification, retried.
    expect(
      ofType(lines, 'check')
        .filter((c) => c.step === 'ping')
        .map((c) => [c.attempt, c.ok]),
    ).toEqual([
      [1, false],
      [2, true],
    ]);
  });

  it('after the last attempt the step fails, and resume starts it over', async () => {
    const executor = new FakeExecutor().on('ping-it', { exitCode: 1 });
    const { result, lines, stateDir } = await run(source, executor);
    expect(result.status).toBe('failed');
    expect(ofType(lines, 'check').filter((c) => c.phase === 'verify')).toHaveLength(4);
    executor.on('ping-it', { exitCode: 0 }, 0);
    const fixed = new FakeExecutor();
    const resumed = await resumeRun({
      store: storeAt(stateDir),
      runId: result.runId,
      executor: fixed,
      currentRunbookHash: runbookHashNow,
    });
    expect(resumed.kind === 'resumed' && resumed.status).toBe('succeeded');
  });
});

describe('retries on probes', () => {
  it('a probe is tried until its when holds, each attempt journaled', async () => {
    const source = `name: demo
description: x
steps:
  - id: ping
    title: x
    why: x
    verify: [{ run: [ping-it] }]
    diagnose:
      - { run: [arp-stale], when: { exit: 0 }, cause: a stale ARP entry, retries: 2, delay: 0.01 }
`;
    const executor = new FakeExecutor().on('ping-it', { exitCode: 1 }).on('arp-stale', { exitCode: 1 }, 1);
    const { result, lines } = await run(source, executor);
    expect(result.failure?.findings.map((f) => f.cause)).toEqual(['a stale ARP entry']);
    expect(
      ofType(lines, 'command-start')
        .filter((l) => l.phase === 'diagnose')
        .map((l) => l.attempt),
    ).toEqual([1, 2]);
  });
});

describe('captures that extract, used in do and undo', () => {
  const source = `name: demo
description: x
steps:
  - id: mode
    title: x
    why: x
    capture:
      old_mode: { run: [ip, -j, -d, link, show, mv0], json: 0.linkinfo.info_data.mode }
      old_mtu: { run: [ip, link, show, mv0], regex: "mtu (\\\\d+)" }
    do:
      - [note, "was {{old_mode}} with mtu {{old_mtu}}"]
      - [ip, link, set, mv0, type, macvlan, mode, bridge]
    verify: [{ run: [is-bridge] }]
    undo:
      - [ip, link, set, mv0, type, macvlan, mode, "{{old_mode}}"]
`;
  const linkJson = JSON.stringify([
    { ifname: 'mv0', linkinfo: { info_kind: 'macvlan', info_data: { mode: 'private' } } },
  ]);

  it('json picks a field, regex a group; do gets the values at once, rollback the first ones journaled', async () => {
    const executor = new FakeExecutor()
      .on('ip -j -d link show', { stdout: linkJson })
      .on('ip link show mv0', { stdout: '5: mv0@veth0: <BROADCAST> mtu 1400 qdisc noop\n' })
      .on('is-bridge', { exitCode: 1 }, 1);
    const { result, lines, stateDir } = await run(source, executor);
    expect(result.status).toBe('succeeded');
    expect(executor.calls).toContain('note was private with mtu 1400');
    expect(ofType(lines, 'capture').map((c) => [c.name, c.value])).toEqual([
      ['old_mode', 'private'],
      ['old_mtu', '1400'],
    ]);
    executor.on('is-bridge', { exitCode: 1 });
    await rollbackRun({ store: storeAt(stateDir), runId: result.runId, executor });
    expect(executor.calls).toContain('ip link set mv0 type macvlan mode private');
  });

  it('a capture with nothing to extract stops the step before do, and says why in the journal', async () => {
    const executor = new FakeExecutor().on('ip -j -d link show', { stdout: '[]' }).on('is-bridge', { exitCode: 1 });
    const { result, lines } = await run(source, executor);
    expect(result.status).toBe('failed');
    expect(ofType(lines, 'command-start').filter((l) => l.phase === 'do')).toEqual([]);
    expect(ofType(lines, 'check').find((c) => c.phase === 'capture')?.reason).toBe(
      'nothing captured for old_mode: its output has nothing at 0.linkinfo.info_data.mode',
    );
  });

  it('extractValue: trim, trim: false, a path into objects and arrays, non-scalars refused', () => {
    expect(extractValue({}, '  0\n')).toEqual({ value: '0' });
    expect(extractValue({ trim: false }, 'a\n\nb\n')).toEqual({ value: 'a\n\nb\n' });
    expect(extractValue({ json: '0.addr_info.1.local' }, '[{"addr_info":[{"local":"a"},{"local":"b"}]}]')).toEqual({
      value: 'b',
    });
    expect(extractValue({ json: '0.mtu' }, '[{"mtu":1500}]')).toEqual({ value: '1500' });
    expect(extractValue({ json: '0' }, '[{"mtu":1500}]')).toEqual({ problem: '0 is not a single value in its output' });
    expect(extractValue({ json: 'a' }, 'not json')).toEqual({ problem: 'its output is not JSON' });
    expect(extractValue({ regex: 'mode (\\w+)' }, 'x\nmacvlan mode vepa\n')).toEqual({ value: 'vepa' });
    // An optional group: "" when what it looks for is absent, so that undo can tell.
    const optional = { regex: '^(?:[\\s\\S]*macvlan mode (\\w+))?' };
    expect(extractValue(optional, '5: mv0: <>\n    macvlan mode private bcqueuelen 1000\n')).toEqual({
      value: 'private',
    });
    expect(extractValue(optional, '')).toEqual({ value: '' });
    expect(extractValue({ regex: 'mtu \\d+' }, 'a mtu 1500 b')).toEqual({ value: 'mtu 1500' });
  });
});

describe('undo: none', () => {
  const source = `name: demo
description: x
steps:
  - id: link
    title: x
    why: x
    do: [[create, link]]
    verify: [{ run: [has, link] }]
    undo: [[delete, link]]
  - id: flush
    title: x
    why: x
    do: [[ip, neigh, flush, all]]
    verify: [{ run: [neigh-clean] }]
    undo: { none: "a flushed neighbour cache refills by itself" }
`;

  it('rollback reports the step as not undoable, runs nothing for it, and goes on; a second rollback does nothing', async () => {
    const executor = new FakeExecutor().on('has link', { exitCode: 1 }, 1).on('neigh-clean', { exitCode: 1 }, 1);
    const { result, stateDir } = await run(source, executor);
    expect(result.status).toBe('succeeded');
    executor.calls.length = 0;
    executor.on('has link', { exitCode: 1 });
    const rolledBack = await rollbackRun({ store: storeAt(stateDir), runId: result.runId, executor });
    expect(rolledBack.kind === 'rollback' && rolledBack.status).toBe('rolled-back');
    expect(rolledBack.kind === 'rollback' && rolledBack.steps.map((s) => [s.stepId, s.outcome, s.stillHolds])).toEqual([
      ['flush', 'not-undoable', 'a flushed neighbour cache refills by itself'],
      ['link', 'undone', undefined],
    ]);
    expect(executor.calls).toEqual(['delete link', 'has link']);
    expect(ofType(linesOf(stateDir, result.runId), 'step-undone')[0]).toMatchObject({
      step: 'flush',
      outcome: 'not-undoable',
      reason: 'a flushed neighbour cache refills by itself',
    });
    expect((await rollbackRun({ store: storeAt(stateDir), runId: undefined, executor })).kind).toBe('nothing');
  });

  it('is refused without a reason, and a do without any undo is still refused', () => {
    expect(() => runbookOf(source.replace('"a flushed neighbour cache refills by itself"', '""'))).toThrow(
      'say why the step cannot be undone',
    );
    expect(() => runbookOf(source.replace(/ {4}undo: \{ none.*\n/, ''))).toThrow('must say how to undo it');
  });
});
