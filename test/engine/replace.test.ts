import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planChanges, ReplaceNeeded } from '../../src/engine/plan-changes.js';
import { PreconditionsRefused } from '../../src/engine/preconditions.js';
import { resumeRun } from '../../src/engine/resume.js';
import { rollbackRun } from '../../src/engine/rollback.js';
import { rollbackAll } from '../../src/engine/rollback-all.js';
import { runRunbook, type RunRunbookOptions } from '../../src/engine/run.js';
import { RunbookError } from '../../src/errors.js';
import type { JournalLine } from '../../src/journal/entries.js';
import { journalFile } from '../../src/journal/paths.js';
import { readJournal, verifyJournal } from '../../src/journal/reader.js';
import { readRunIndex } from '../../src/journal/run-index.js';
import { runbookHashNow } from '../../src/runbook/load.js';
import { prepareRunbook } from '../../src/runbook/prepare.js';
import { FakeHost } from '../helpers/fake-executor.js';
import { storeAt } from '../helpers/store.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { hintText } from '../helpers/advice.js';

/**
 * Re-applying a runbook with new values (issue 23), with the real engine, journals and indexes
 * on a temp state dir and FakeHost as the kernel (`create X` / `has X` / `delete X`; `free X`
 * answers 0 unless told to fail). The runbook: a (kept whatever the values), b{{v}} (changes
 * with v), c (after b: redone when b changes), one item per 1..count, and a check-only step.
 */

const runbookText = `name: fake
description: steps that drive FakeHost
parameters:
  v: { type: string, default: "1" }
  count: { type: integer, default: 2, min: 1, max: 9 }
  seen: { type: string, default: a }
steps:
  - id: a
    title: make a
    why: kept
    do: [[create, a]]
    verify: [{ run: [has, a] }]
    undo: [[delete, a]]
  - id: b
    title: make b{{v}}
    why: changes with v
    requires:
      - run: [free, "b{{v}}"]
        preflight: true
        cause: "the name b{{v}} is taken"
        fix: "choose another v"
    do: [[create, "b{{v}}"]]
    verify: [{ run: [has, "b{{v}}"] }]
    undo: [[delete, "b{{v}}"]]
  - id: c
    title: make c
    why: after b
    do: [[create, c]]
    verify: [{ run: [has, c] }]
    undo: [[delete, c]]
  - foreach: { var: n, from: 1, to: "{{count}}" }
    steps:
      - id: item
        title: make item{{n}}
        why: one per count
        requires:
          - run: [free, "item{{n}}"]
            preflight: true
            cause: "the name item{{n}} is taken"
        do: [[create, "item{{n}}"]]
        verify: [{ run: [has, "item{{n}}"] }]
        undo: [[delete, "item{{n}}"]]
  - id: look
    title: look at {{seen}}
    why: a check, which changes nothing
    requires:
      - run: [has, uplink]
        preflight: true
        cause: the host has no uplink
    verify: [{ run: [has, "{{seen}}"] }]
`;

let dir: string;
let stateDir: string;
let file: string;
let host: FakeHost;

function run(set: string[] = [], extra: Partial<RunRunbookOptions> = {}) {
  const { runbook, params } = prepareRunbook(file, set);
  return runRunbook({ runbook, params, store: storeAt(stateDir), executor: host, ...extra });
}

function plan(set: string[] = []) {
  const { plan: rendered } = prepareRunbook(file, set);
  return planChanges({ store: storeAt(stateDir), runbook: 'fake', plan: rendered, executor: host });
}

function resume() {
  return resumeRun({ store: storeAt(stateDir), runId: undefined, executor: host, currentRunbookHash: runbookHashNow });
}

function takeCalls(): string[] {
  return host.calls.splice(0);
}

function lines(runId: string): JournalLine[] {
  return readJournal(journalFile(stateDir, runId)).lines;
}

function status(runId: string): string | undefined {
  return readRunIndex(stateDir, runId)?.status;
}

function things(): string[] {
  return [...host.present].filter((t) => t !== 'uplink').sort();
}

function intact(runId: string): void {
  expect(verifyJournal(readJournal(journalFile(stateDir, runId)), readRunIndex(stateDir, runId))).toBeUndefined();
}

async function rejection(promise: Promise<unknown>): Promise<RunbookError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RunbookError);
  return error as RunbookError;
}

beforeEach(() => {
  dir = tempDir('runbook-replace-');
  stateDir = path.join(dir, 'state');
  file = path.join(dir, 'fake.yaml');
  writeFileSync(file, runbookText);
  host = new FakeHost();
  host.present.add('uplink');
});

afterEach(() => removeDir(dir));

describe('a run with other values, while a run of the runbook is in effect', () => {
  it('is refused without --replace (replace-needed, exit 2), with the plan, and nothing is changed', async () => {
    const first = await run();
    expect(first.status).toBe('succeeded');
    takeCalls();
    const error = await rejection(run(['v=2']));
    expect(error).toBeInstanceOf(ReplaceNeeded);
    expect(error.code).toBe('replace-needed');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(`run ${first.runId} of fake, with other values, is in effect`);
    const changes = (error as ReplaceNeeded).plan;
    expect(changes.needsReplace).toBe(true);
    expect(changes.steps.map((s) => `${s.stepId} ${s.action}`)).toEqual([
      'a keep',
      'b replace',
      'c redo',
      'item-1 redo',
      'item-2 redo',
      'look keep',
    ]);
    expect(changes.steps.find((s) => s.stepId === 'b')?.change).toEqual({
      phase: 'do',
      before: [['create', 'b1']],
      after: [['create', 'b2']],
    });
    // Only read-only calls: the preconditions of the new b (the others hold, or are redone).
    expect(takeCalls().filter((c) => /^(create|delete)/.test(c))).toEqual([]);
    expect(things()).toEqual(['a', 'b1', 'c', 'item1', 'item2']);
    expect(status(first.runId)).toBe('succeeded');
  });

  it('with --replace: undoes the earlier run from the first step that changed, newest first, hands over the rest, then runs', async () => {
    const first = await run();
    takeCalls();
    const undone: string[] = [];
    const second = await run(['v=2'], { replace: true, onReplaceUndo: (id, r) => undone.push(`${id} ${r.stepId}`) });
    expect(second.status).toBe('succeeded');
    expect(second.replaced?.status).toBe('replaced');
    expect(undone).toEqual(['item-2', 'item-1', 'c', 'b'].map((s) => `${first.runId} ${s}`));
    const calls = takeCalls();
    expect(calls.filter((c) => /^(create|delete)/.test(c))).toEqual([
      'delete item2',
      'delete item1',
      'delete c',
      'delete b1',
      'create b2',
      'create c',
      'create item1',
      'create item2',
    ]);
    expect(things()).toEqual(['a', 'b2', 'c', 'item1', 'item2']);
    expect(second.steps.map((s) => `${s.stepId} ${s.outcome}`)).toEqual([
      'a ok',
      'b changed',
      'c changed',
      'item-1 changed',
      'item-2 changed',
      'look ok',
    ]);

    // Who replaced what: the earlier run's status and journal, the new run's journal.
    expect(status(first.runId)).toBe('replaced');
    expect(status(second.runId)).toBe('succeeded');
    const old = lines(first.runId);
    expect(old.find((l) => l.type === 'attempt-start')).toMatchObject({ kind: 'replace' });
    expect(old.find((l) => l.type === 'rollback-start')).toMatchObject({
      steps: ['item-2', 'item-1', 'c', 'b'],
      replacedBy: second.runId,
    });
    expect(old.at(-1)).toMatchObject({ type: 'replaced', by: second.runId, handedOver: ['a'] });
    const mine = lines(second.runId);
    expect(mine[0]).toMatchObject({
      type: 'run-start',
      replaces: [
        { runId: first.runId, undo: ['item-2', 'item-1', 'c', 'b'], takeOver: [{ step: 'a', cutOff: false }] },
      ],
    });
    expect(mine.find((l) => l.type === 'replace-end')).toMatchObject({ status: 'replaced' });
    intact(first.runId);
    intact(second.runId);

    // One rollback of the new run leaves the host as before the first run: it answers for a too.
    const rolledBack = await rollbackRun({ store: storeAt(stateDir), runId: undefined, executor: host });
    expect(rolledBack).toMatchObject({ kind: 'rollback', runId: second.runId, status: 'rolled-back' });
    expect(things()).toEqual([]);
    // The replaced run has nothing left: rollback --all finds nothing more to do.
    expect(await rollbackAll({ store: storeAt(stateDir), runbook: undefined, executor: host })).toMatchObject({
      kind: 'nothing',
    });
    expect(await rollbackRun({ store: storeAt(stateDir), runId: first.runId, executor: host })).toMatchObject({
      kind: 'nothing',
      message: expect.stringMatching(/was replaced by a later run/),
    });
  });

  it('rollback --all after a replace leaves the host as before the first run', async () => {
    await run();
    await run(['v=2'], { replace: true });
    await run(['v=3'], { replace: true });
    expect(things()).toEqual(['a', 'b3', 'c', 'item1', 'item2']);
    const all = await rollbackAll({ store: storeAt(stateDir), runbook: 'fake', executor: host });
    expect(all).toMatchObject({ kind: 'rollback-all', status: 'rolled-back' });
    expect(things()).toEqual([]);
  });

  it('count 3 → 2 undoes item3 and nothing else; 2 → 3 adds it, without asking (nothing to undo)', async () => {
    const three = await run(['count=3']);
    expect(things()).toEqual(['a', 'b1', 'c', 'item1', 'item2', 'item3']);
    takeCalls();
    await rejection(run(['count=2']));
    const two = await run(['count=2'], { replace: true });
    expect(two.status).toBe('succeeded');
    expect(takeCalls().filter((c) => /^(create|delete)/.test(c))).toEqual(['delete item3']);
    expect(things()).toEqual(['a', 'b1', 'c', 'item1', 'item2']);
    expect(lines(three.runId).at(-1)).toMatchObject({
      type: 'replaced',
      handedOver: ['a', 'b', 'c', 'item-1', 'item-2'],
    });

    const back = await run(['count=3']); // no --replace: it only adds
    expect(back.status).toBe('succeeded');
    expect(takeCalls().filter((c) => /^(create|delete)/.test(c))).toEqual(['create item3']);
    expect(status(two.runId)).toBe('replaced');
    expect(back.steps.filter((s) => s.outcome === 'changed').map((s) => s.stepId)).toEqual(['item-3']);
    await rollbackRun({ store: storeAt(stateDir), runId: undefined, executor: host });
    expect(things()).toEqual([]);
  });

  it('a change to a check-only step undoes nothing (the new run takes everything over); the same values again replace nothing', async () => {
    const first = await run();
    const looked = await run(['seen=c']);
    expect(looked.status).toBe('succeeded');
    expect(looked.replaced?.status).toBe('replaced'); // takes everything over, undoes nothing
    expect(status(first.runId)).toBe('replaced');
    takeCalls();
    const again = await run(['seen=c']);
    expect(again.replaced).toBeUndefined();
    expect(takeCalls().filter((c) => /^(create|delete)/.test(c))).toEqual([]);
    expect(status(looked.runId)).toBe('succeeded');
  });

  it('plan says what a run would do and changes nothing: keep, replace, redo, new, gone', async () => {
    expect((await plan()).steps.map((s) => s.action)).toEqual(['new', 'new', 'new', 'new', 'new', 'new']);
    const first = await run(['count=3']);
    takeCalls();
    const changes = await plan(['v=2', 'count=4']);
    expect(changes.replaces).toEqual([
      {
        runId: first.runId,
        status: 'succeeded',
        params: { v: '1', count: '3', seen: 'a' },
        undo: ['item-3', 'item-2', 'item-1', 'c', 'b'],
        takeOver: ['a'],
      },
    ]);
    expect(changes.steps.map((s) => `${s.stepId} ${s.action}${s.undone ? ' (undone)' : ''}`)).toEqual([
      'a keep',
      'b replace (undone)',
      'c redo (undone)',
      'item-1 redo (undone)',
      'item-2 redo (undone)',
      'item-3 redo (undone)',
      'item-4 new',
      'look keep',
    ]);
    expect((await plan(['count=2'])).steps.map((s) => `${s.stepId} ${s.action}`)).toContain('item-3 gone');
    expect(takeCalls().filter((c) => /^(create|delete)/.test(c))).toEqual([]);
    expect(status(first.runId)).toBe('succeeded');
  });

  it('an undo that fails stops the replace (the run fails); resume finishes it once the cause is fixed', async () => {
    const first = await run();
    host.failing.add('delete c'); // c stays: its undo fails, and its check still finds it
    const second = await run(['v=2'], { replace: true });
    expect(second.status).toBe('failed');
    expect(second.replaced).toMatchObject({ status: 'failed', message: expect.stringMatching(/step c/) });
    expect(status(second.runId)).toBe('failed');
    expect(status(first.runId)).toBe('failed');
    expect(things()).toEqual(['a', 'b1', 'c']);
    // Neither may be resumed in a way that redoes what the other undid.
    host.failing.delete('delete c');
    const resumed = await resume();
    expect(resumed).toMatchObject({ kind: 'resumed', runId: second.runId, status: 'succeeded' });
    expect(things()).toEqual(['a', 'b2', 'c', 'item1', 'item2']);
    expect(status(first.runId)).toBe('replaced');
    intact(first.runId);
    intact(second.runId);
  });

  it('a replace interrupted while undoing is finished by resume, which converges to the same host', async () => {
    const first = await run();
    const controller = new AbortController();
    const second = await run(['v=2'], {
      replace: true,
      signal: controller.signal,
      onReplaceUndo: (_id, report) => report.stepId === 'item-1' && controller.abort(),
    });
    expect(second.status).toBe('interrupted');
    expect(things()).toEqual(['a', 'b1', 'c']);
    expect(status(second.runId)).toBe('interrupted');
    await expect(
      resumeRun({ store: storeAt(stateDir), runId: first.runId, executor: host, currentRunbookHash: runbookHashNow }),
    ).rejects.toThrow(/is being replaced by run/);
    const resumed = await resume();
    expect(resumed).toMatchObject({ kind: 'resumed', runId: second.runId, status: 'succeeded' });
    expect(things()).toEqual(['a', 'b2', 'c', 'item1', 'item2']);
    expect(status(first.runId)).toBe('replaced');
    // A new run with yet other values meanwhile would have been refused: it must wait for the replace.
    await rollbackRun({ store: storeAt(stateDir), runId: undefined, executor: host });
    expect(things()).toEqual([]);
  });

  it('a rollback of a replace cut short first finishes the undo of the run it replaces, then undoes itself', async () => {
    const first = await run();
    const controller = new AbortController();
    const second = await run(['v=2'], {
      replace: true,
      signal: controller.signal,
      onReplaceUndo: (_id, report) => report.stepId === 'item-1' && controller.abort(),
    });
    expect(second.status).toBe('interrupted');
    expect(things()).toEqual(['a', 'b1', 'c']);
    takeCalls();
    // What the first run still holds was made on top of what the second took over (c after a):
    // it goes first, in the first run's journal, then what the second run answers for.
    const result = await rollbackRun({ store: storeAt(stateDir), runId: second.runId, executor: host });
    expect(result).toMatchObject({ kind: 'rollback', runId: second.runId, status: 'rolled-back' });
    expect(takeCalls().filter((c) => c.startsWith('delete'))).toEqual(['delete c', 'delete b1', 'delete a']);
    expect(things()).toEqual([]);
    expect(status(first.runId)).toBe('replaced');
    expect(lines(first.runId).at(-1)).toMatchObject({ type: 'replaced', by: second.runId });
    expect(status(second.runId)).toBe('rolled-back');
    intact(first.runId);
    intact(second.runId);
  });

  it('refuses a new replace while an earlier one is unfinished', async () => {
    await run();
    const controller = new AbortController();
    const second = await run(['v=2'], {
      replace: true,
      signal: controller.signal,
      onReplaceUndo: () => controller.abort(),
    });
    expect(second.status).toBe('interrupted');
    const error = await rejection(run(['v=3'], { replace: true }));
    expect(error.message).toMatch(/did not finish/);
    expect(hintText(error)).toContain(`runbook resume ${second.runId}`);
  });

  it('refuses to replace what a later run of another runbook builds on', async () => {
    const first = await run();
    const otherFile = path.join(dir, 'other.yaml');
    writeFileSync(
      otherFile,
      [
        'name: other',
        'description: builds on c',
        'steps:',
        '  - id: on-c',
        '    title: c again, and d',
        '    why: builds on c',
        '    do: [[create, d]]',
        '    verify: [{ run: [has, d] }]',
        '    undo: [[delete, d]]',
        '  - id: c',
        '    title: c',
        '    why: the same object',
        '    do: [[create, c]]',
        '    verify: [{ run: [has, c] }]',
        '    undo: [[delete, c]]',
      ].join('\n'),
    );
    const { runbook, params } = prepareRunbook(otherFile, []);
    const other = await runRunbook({ runbook, params, store: storeAt(stateDir), executor: host });
    expect(other.status).toBe('succeeded');
    takeCalls();
    const error = await rejection(run(['v=2'], { replace: true }));
    expect(error.message).toContain(`refusing to replace run ${first.runId}`);
    expect(error.message).toContain(other.runId);
    expect(takeCalls().filter((c) => /^(create|delete)/.test(c))).toEqual([]);
  });
});

describe('preconditions about the host as found', () => {
  it('are all checked before the first change, and a run they refuse changes nothing and names each', async () => {
    host.failing.add('free b1');
    host.failing.add('free item2');
    host.present.delete('uplink');
    const error = await rejection(run());
    expect(error).toBeInstanceOf(PreconditionsRefused);
    expect(error.code).toBe('precondition-failed');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('3 preconditions');
    expect(error.message).toContain('b: the name b1 is taken');
    expect(error.message).toContain('fix: choose another v');
    expect(error.message).toContain('item-2: the name item2 is taken');
    expect(error.message).toContain('look: the host has no uplink');
    expect(error.message).toContain('nothing was changed');
    expect((error as PreconditionsRefused).failures.map((f) => f.steps)).toEqual([['b'], ['item-2'], ['look']]);
    expect(takeCalls().filter((c) => /^(create|delete)/.test(c))).toEqual([]);
    expect(things()).toEqual([]);
    expect(storeAt(stateDir).listRuns()).toEqual([]);
  });

  it('do not apply to a step that already holds (a re-run): its do has nothing to do', async () => {
    await run();
    host.failing.add('free b1'); // b1 is "taken": by the run itself
    takeCalls();
    const again = await run();
    expect(again.status).toBe('succeeded');
    expect(takeCalls()).not.toContain('free b1');
  });

  it('are not asked of a step its when: skips here', async () => {
    const conditional = path.join(dir, 'conditional.yaml');
    writeFileSync(
      conditional,
      [
        'name: conditional',
        'description: a step that runs only where a flag is',
        'steps:',
        '  - id: w',
        '    title: make w',
        '    why: only with the flag',
        '    when: { run: [has, flag] }',
        '    requires: [{ run: [free, w], preflight: true, cause: the name w is taken }]',
        '    do: [[create, w]]',
        '    verify: [{ run: [has, w] }]',
        '    undo: [[delete, w]]',
      ].join('\n'),
    );
    host.failing.add('free w');
    const { runbook, params } = prepareRunbook(conditional, []);
    const skipped = await runRunbook({ runbook, params, store: storeAt(stateDir), executor: host });
    expect(skipped.status).toBe('succeeded');
    host.present.add('flag');
    const error = await rejection(runRunbook({ runbook, params, store: storeAt(stateDir), executor: host }));
    expect(error).toBeInstanceOf(PreconditionsRefused);
    expect(error.message).toContain('w: the name w is taken');
  });

  it('of a step that uses exported values are asked when it runs, once those values exist', async () => {
    const importing = path.join(dir, 'importing.yaml');
    writeFileSync(
      importing,
      [
        'name: importing',
        'description: a name read from the host in one step, checked in the next',
        'steps:',
        '  - id: a',
        '    title: make a',
        '    why: exports its name',
        '    do: [[create, a]]',
        '    verify: [{ run: [has, a] }]',
        '    undo: [[delete, a]]',
        '    export:',
        '      found: [has, a]',
        '  - id: b',
        '    title: use it',
        '    why: needs the name free',
        '    requires: [{ run: [free, "{{found}}"], preflight: true, cause: "the name a exports is taken" }]',
        '    do: [[create, "b{{found}}"]]',
        '    verify: [{ run: [has, "b{{found}}"] }]',
        '    undo: [[delete, "b{{found}}"]]',
      ].join('\n'),
    );
    host.failing.add('free a');
    const { runbook, params } = prepareRunbook(importing, []);
    const result = await runRunbook({ runbook, params, store: storeAt(stateDir), executor: host });
    // Not asked before the run with its placeholder unfilled; asked at its step, with the value.
    expect(takeCalls().filter((c) => c.startsWith('free'))).toEqual(['free a']);
    expect(result.status).toBe('failed');
    expect(result.failure?.stepId).toBe('b');
    expect(result.steps.find((s) => s.stepId === 'b')?.refused).toBe(true);
    expect(things()).toEqual(['a']);
  });

  it('plan lists them (wouldRefuse), without changing anything', async () => {
    host.failing.add('free item1');
    const changes = await plan();
    expect(changes.wouldRefuse).toBe(true);
    expect(changes.preconditions).toMatchObject([
      { severity: 'refuse', steps: ['item-1'], cause: 'the name item1 is taken' },
    ]);
    expect(takeCalls().filter((c) => /^(create|delete)/.test(c))).toEqual([]);
  });
});
