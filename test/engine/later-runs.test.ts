import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rollbackAll } from '../../src/engine/rollback-all.js';
import { rollbackRun } from '../../src/engine/rollback.js';
import { runRunbook } from '../../src/engine/run.js';
import { RunbookError } from '../../src/errors.js';
import { journalFile } from '../../src/journal/paths.js';
import { readRunIndex } from '../../src/journal/run-index.js';
import { prepareRunbook } from '../../src/runbook/prepare.js';
import { FakeHost } from '../helpers/fake-executor.js';
import { fakeRunbook } from '../helpers/runbooks.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { storeAt } from '../helpers/store.js';
import { hintText } from '../helpers/advice.js';

/**
 * Rollback in reverse order (issue 11), with the real engine and journal and FakeHost as the
 * kernel: a run stopped after making `a` and `b`, a new run that found them in place and made
 * `c` and `d`. Rolling the first back would delete what the second stands on.
 */

let dir: string;
let stateDir: string;
let file: string;
let host: FakeHost;

beforeEach(() => {
  dir = tempDir('runbook-later-');
  stateDir = path.join(dir, 'state');
  file = path.join(dir, 'fake.yaml');
  host = new FakeHost();
  writeFileSync(file, fakeRunbook(['a', 'b', 'c', 'd']));
});

afterEach(() => {
  removeDir(dir);
});

async function run(stopAfter?: string, runbookFile = file) {
  const { runbook, params } = prepareRunbook(runbookFile, []);
  return runRunbook({ runbook, params, store: storeAt(stateDir), executor: host, stopAfter });
}

/** The first run stopped after b; the second, a new run, found a and b in place and made c and d. */
async function stacked(): Promise<{ first: string; second: string }> {
  const first = await run('b');
  const second = await run();
  expect(second.steps.map((s) => `${s.stepId} ${s.outcome}`)).toEqual(['a ok', 'b ok', 'c changed', 'd changed']);
  host.calls.splice(0);
  return { first: first.runId, second: second.runId };
}

describe('a rollback never takes away what a later run builds on', () => {
  it('refuses to roll back the earlier run: invalid input naming the later run, nothing run or journaled', async () => {
    const { first, second } = await stacked();
    const journal = readFileSync(journalFile(stateDir, first), 'utf8');
    const error = await rollbackRun({ store: storeAt(stateDir), runId: first, executor: host }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RunbookError);
    expect((error as RunbookError).code).toBe('invalid-input');
    expect((error as RunbookError).message).toContain(`${second} (fake, succeeded: b, a)`);
    expect(hintText(error as RunbookError)).toContain(`runbook rollback ${second}`);
    expect(host.calls).toEqual([]);
    expect([...host.present].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(readFileSync(journalFile(stateDir, first), 'utf8')).toBe(journal);
  });

  it('with force it rolls the earlier run back anyway: what the later run found is gone', async () => {
    const { first, second } = await stacked();
    const result = await rollbackRun({ store: storeAt(stateDir), runId: first, executor: host, force: true });
    expect(result).toMatchObject({ kind: 'rollback', status: 'rolled-back', planned: ['b', 'a'] });
    expect([...host.present].sort()).toEqual(['c', 'd']);
    expect(readRunIndex(stateDir, second)?.status).toBe('succeeded');
  });

  it('in reverse order it goes: the later run first, then the earlier one, and nothing is left', async () => {
    const { first, second } = await stacked();
    expect(await rollbackRun({ store: storeAt(stateDir), runId: second, executor: host })).toMatchObject({
      status: 'rolled-back',
    });
    expect([...host.present].sort()).toEqual(['a', 'b']);
    expect(await rollbackRun({ store: storeAt(stateDir), runId: first, executor: host })).toMatchObject({
      status: 'rolled-back',
    });
    expect(host.present.size).toBe(0);
  });

  it('an earlier run whose rollback started before the later run is still refused, and finished after it', async () => {
    const first = (await run()).runId;
    // Half undone: d and c, then an undo of b that fails stops it.
    host.failing.add('delete b');
    const half = await rollbackRun({ store: storeAt(stateDir), runId: first, executor: host });
    expect(half).toMatchObject({ status: 'failed' });
    host.failing.delete('delete b');
    // A new run finds a and b in place and makes c and d again.
    const second = (await run()).runId;
    await expect(rollbackRun({ store: storeAt(stateDir), runId: first, executor: host })).rejects.toThrow(second);
    await rollbackRun({ store: storeAt(stateDir), runId: second, executor: host });
    expect(await rollbackRun({ store: storeAt(stateDir), runId: first, executor: host })).toMatchObject({
      status: 'rolled-back',
    });
    expect(host.present.size).toBe(0);
  });

  it('rollback --all --runbook refuses while a run of another runbook builds on its runs; --force goes on', async () => {
    await run();
    // Another runbook whose steps d and e undo as fake's d does, and something of its own.
    const other = path.join(dir, 'other.yaml');
    writeFileSync(other, fakeRunbook(['d', 'e'], 'other'));
    const second = (await run(undefined, other)).runId;
    host.calls.splice(0);
    await expect(rollbackAll({ store: storeAt(stateDir), runbook: 'fake', executor: host })).rejects.toThrow(
      `${second} (other, succeeded: d)`,
    );
    expect(host.calls).toEqual([]);
    const forced = await rollbackAll({ store: storeAt(stateDir), runbook: 'fake', executor: host, force: true });
    expect(forced).toMatchObject({ kind: 'rollback-all', status: 'rolled-back' });
    expect([...host.present]).toEqual(['e']);
    // Without --runbook every run goes, newest first: nothing to refuse.
    expect(await rollbackAll({ store: storeAt(stateDir), runbook: undefined, executor: host })).toMatchObject({
      status: 'rolled-back',
    });
    expect(host.present.size).toBe(0);
  });
});
