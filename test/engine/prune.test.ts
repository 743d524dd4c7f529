import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pruneRuns, type PruneOptions } from '../../src/engine/prune.js';
import { rollbackRun } from '../../src/engine/rollback.js';
import { runRunbook } from '../../src/engine/run.js';
import { envVar } from '../../src/env.js';
import { journalFile } from '../../src/journal/paths.js';
import { prepareRunbook } from '../../src/runbook/prepare.js';
import { FakeHost } from '../helpers/fake-executor.js';
import { fakeRunbook } from '../helpers/runbooks.js';
import { storeAt } from '../helpers/store.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * `runbook prune` (issue 24): what it removes, and what it never removes unless asked — with the
 * real engine and journal on a temp state dir, FakeHost for the kernel.
 */

let dir: string;
let stateDir: string;
let host: FakeHost;

function writeRunbook(name: string, ids: readonly string[]): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, fakeRunbook(ids, name));
  return file;
}

async function apply(file: string): Promise<string> {
  const { runbook, params } = prepareRunbook(file, []);
  return (await runRunbook({ runbook, params, store: storeAt(stateDir), executor: host })).runId;
}

const prune = (options: Partial<PruneOptions> = {}) => pruneRuns({ store: storeAt(stateDir), keep: 1, ...options });
const ids = () =>
  storeAt(stateDir)
    .listRuns()
    .map((r) => r.id);

beforeEach(() => {
  dir = tempDir('runbook-prune-');
  stateDir = path.join(dir, 'state');
  host = new FakeHost();
});

afterEach(() => removeDir(dir));

describe('runbook prune', () => {
  it('removes the no-op re-applies and the runs rolled back, beyond the newest of each runbook; never a run with changes in effect', async () => {
    const file = writeRunbook('fake', ['a']);
    const made = await apply(file);
    const noops = [await apply(file), await apply(file), await apply(file)];
    const result = await prune();
    expect(result.pruned.map((r) => r.runId)).toEqual(noops.slice(0, 2));
    expect(result.kept).toMatchObject({ 'changes-in-effect': [made], newest: [noops[2]] });
    expect(ids()).toEqual([made, noops[2]]);
    for (const id of noops.slice(0, 2)) expect(existsSync(journalFile(stateDir, id))).toBe(false);

    // Rolled back, the run that made the change has nothing left to undo: it may go too.
    await rollbackRun({ store: storeAt(stateDir), runId: made, executor: host });
    expect((await prune()).pruned.map((r) => r.runId)).toEqual([made]);
    expect(ids()).toEqual([noops[2]]);
    // --keep 0 keeps none for being newest.
    expect((await prune({ keep: 0 })).pruned.map((r) => r.runId)).toEqual([noops[2]]);
    expect(ids()).toEqual([]);
  });

  it('--dry-run says the same and removes nothing, on a store opened for reading', async () => {
    const file = writeRunbook('fake', ['a']);
    const runs = [await apply(file), await apply(file), await apply(file)];
    const dry = await pruneRuns({ store: storeAt(stateDir, 'read'), keep: 1, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, pruned: [{ runId: runs[1] }] });
    expect(ids()).toEqual(runs);
    expect((await prune()).pruned).toEqual(dry.pruned);
  });

  it('counts the newest per runbook, and --runbook touches only that runbook', async () => {
    const one = writeRunbook('one', ['a']);
    const two = writeRunbook('two', ['b']);
    const ones = [await apply(one), await apply(one)];
    const twos = [await apply(two), await apply(two)];
    expect((await prune({ runbook: 'one', keep: 0 })).pruned.map((r) => r.runId)).toEqual([ones[1]]);
    expect(ids()).toEqual([ones[0], ...twos]);
  });

  it('keeps a damaged run for someone to look into, unless asked (--damaged)', async () => {
    const file = writeRunbook('fake', ['a']);
    await apply(file);
    const damaged = await apply(file);
    await apply(file);
    appendFileSync(journalFile(stateDir, damaged), '{"not": "a journal line"}\n');
    const result = await prune({ keep: 0 });
    expect(result.kept.damaged).toEqual([damaged]);
    expect(ids()).toContain(damaged);
    expect((await prune({ keep: 0, damaged: true })).pruned.map((r) => r.runId)).toEqual([damaged]);
  });

  it('keeps runs of another host (what is left of them cannot be told here), and runs that ended recently with --older-than', async () => {
    const file = writeRunbook('fake', ['a']);
    process.env[envVar.sandbox] = 'elsewhere';
    let other: string;
    try {
      other = await apply(file);
    } finally {
      delete process.env[envVar.sandbox];
    }
    host.present.clear();
    const here = [await apply(file), await apply(file)];
    expect((await prune({ keep: 0, olderThanMs: 3_600_000 })).kept).toMatchObject({
      'another-host': [other],
      recent: here.slice(1),
      'changes-in-effect': here.slice(0, 1),
    });
    expect(ids()).toEqual([other, ...here]);
  });
});
