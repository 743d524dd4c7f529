import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CliContext } from '../../src/cli/context.js';
import { runsCommand } from '../../src/cli/commands/runs.js';
import { runRunbook } from '../../src/engine/run.js';
import { findRun } from '../../src/journal/find-run.js';
import { acquireLock } from '../../src/journal/lock.js';
import { journalFile, lockFile } from '../../src/journal/paths.js';
import { newRunId } from '../../src/journal/run-id.js';
import { storeAt } from '../helpers/store.js';
import { readJournal, verifyJournal } from '../../src/journal/reader.js';
import { listRunIndexes, readRunIndex, writeRunIndex, type RunIndex } from '../../src/journal/run-index.js';
import { parseRunbook } from '../../src/runbook/load.js';
import { FakeHost } from '../helpers/fake-executor.js';
import { thrown } from '../helpers/thrown.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

let stateDir: string;
beforeEach(() => {
  stateDir = tempDir('runbook-state-');
});
afterEach(() => {
  removeDir(stateDir);
});

/** The pid of a process that has exited (we started it and waited for it). */
async function deadPid(): Promise<number> {
  const child = execa('true');
  const pid = child.pid!;
  await child;
  return pid;
}

describe('state dir lock', () => {
  it('is a file naming its holder, removed on release', () => {
    const lock = acquireLock(stateDir, 'run demo');
    const holder = JSON.parse(readFileSync(lockFile(stateDir), 'utf8'));
    expect(holder).toMatchObject({ pid: process.pid, command: 'run demo', since: expect.any(String) });
    expect(lock.takeoverNote).toBeUndefined();
    lock.release();
    expect(existsSync(lockFile(stateDir))).toBe(false);
    // No temp files left behind.
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('refuses while a live process holds it: exit 3, naming the pid and command', () => {
    const lock = acquireLock(stateDir, 'run first');
    const error = thrown(() => acquireLock(stateDir, 'run second'));
    expect(error.code).toBe('locked');
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain(`pid ${process.pid} (run first)`);
    lock.release();
    acquireLock(stateDir, 'run third').release();
  });

  it('takes over a lock whose holder is gone, with a note', async () => {
    const pid = await deadPid();
    writeFileSync(lockFile(stateDir), JSON.stringify({ pid, command: 'run x', since: '2026-01-01T00:00:00.000Z' }));
    const lock = acquireLock(stateDir, 'run demo');
    expect(lock.takeoverNote).toBe(
      `took over the lock left by pid ${pid} (run x, since 2026-01-01T00:00:00.000Z), which no longer runs`,
    );
    expect(JSON.parse(readFileSync(lockFile(stateDir), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('takes over an unreadable lock, with a note', () => {
    writeFileSync(lockFile(stateDir), 'garbage');
    const lock = acquireLock(stateDir, 'run demo');
    expect(lock.takeoverNote).toBe(`took over an unreadable lock at ${lockFile(stateDir)}`);
    lock.release();
  });

  it('release does not remove a lock that another process has taken since', () => {
    const lock = acquireLock(stateDir, 'run demo');
    writeFileSync(lockFile(stateDir), JSON.stringify({ pid: 1, command: 'run other', since: 'now' }));
    lock.release();
    expect(existsSync(lockFile(stateDir))).toBe(true);
  });
});

describe('run ids and run order', () => {
  it('run ids start with the UTC start time and are unique', () => {
    const date = new Date('2026-11-28T14:34:00.123Z');
    expect(newRunId(date)).toMatch(/^20261128T143400/);
    const ids = new Set(Array.from({ length: 50 }, () => newRunId(date)));
    expect(ids.size).toBeGreaterThan(45);
  });

  const index = (id: string, started: string): RunIndex => ({
    id,
    runbook: 'single-container',
    status: 'succeeded',
    activity: 'run',
    started,
    finished: started,
    pid: process.pid,
    host: { hostname: 'h', netns: 'net:[1]', sandbox: undefined },
    lastSeq: 0,
    lastHash: '',
  });

  it('finds a run by id, unique prefix or "latest"; errors are invalid input', () => {
    writeRunIndex(stateDir, index('20260101T000001Z-aaaa', '2026-01-01T00:00:01.000Z'));
    writeRunIndex(stateDir, index('20260101T000002Z-bbbb', '2026-01-01T00:00:02.000Z'));
    expect(findRun(stateDir, 'latest').id).toBe('20260101T000002Z-bbbb');
    expect(findRun(stateDir, '20260101T000001Z').id).toBe('20260101T000001Z-aaaa');
    expect(() => findRun(stateDir, '2026')).toThrow(/matches 2 runs/);
    expect(() => findRun(stateDir, 'zzz')).toThrow(`no run "zzz" in ${stateDir}`);
    expect(() => findRun(mkdtempSync(path.join(stateDir, 'empty-')), 'latest')).toThrow(/no runs recorded/);
  });

  // BUG (src/journal/paths.ts newRunId + src/journal/run-index.ts listRunIndexes): a run id keeps
  // the start time only to the second, then a random suffix, and runs are ordered by id. Two runs
  // started within the same second are ordered by their random suffixes, so `runbook runs` lists
  // them in the wrong order about half the time and `runbook journal latest` shows the older run.
  // Fix: keep milliseconds in the id (e.g. 20261128T143400123Z-ab12), or sort by `started`, then id.
  it('"latest" is the run that started last, even within the same second', () => {
    // The random suffixes come out high then low, as they do half the time.
    const random = vi.spyOn(Math, 'random').mockReturnValueOnce(0.99).mockReturnValueOnce(0.01);
    const first = newRunId(new Date('2026-01-01T00:00:00.100Z'));
    const second = newRunId(new Date('2026-01-01T00:00:00.900Z'));
    random.mockRestore();
    writeRunIndex(stateDir, index(first, '2026-01-01T00:00:00.100Z'));
    writeRunIndex(stateDir, index(second, '2026-01-01T00:00:00.900Z'));
    expect(listRunIndexes(stateDir).map((r) => r.started)).toEqual([
      '2026-01-01T00:00:00.100Z',
      '2026-01-01T00:00:00.900Z',
    ]);
    expect(findRun(stateDir, 'latest').id).toBe(second);
  });
});

describe('runRunbook with a fake host (no kernel)', () => {
  const source = `name: demo
description: demo
parameters:
  thing: { type: name, default: alpha }
steps:
  - id: make
    title: Make {{thing}}
    why: test
    do: [[create, "{{thing}}"]]
    verify: [{ run: [has, "{{thing}}"] }]
    undo: [[delete, "{{thing}}"]]
  - id: prove
    title: Prove {{thing}}
    why: test
    verify: [{ run: [has, "{{thing}}"] }]
`;
  const runbook = parseRunbook(source, '/virtual/demo.yaml');

  it('records a run: run-start pins runbook, params, user and host; run-end and the index say succeeded', async () => {
    const host = new FakeHost();
    const result = await runRunbook({ runbook, params: { thing: 'alpha' }, store: storeAt(stateDir), executor: host });
    expect(result.status).toBe('succeeded');
    expect(result.steps.map((s) => s.outcome)).toEqual(['changed', 'ok']);
    expect(host.calls).toEqual(['has alpha', 'create alpha', 'has alpha', 'has alpha']);

    const read = readJournal(journalFile(stateDir, result.runId));
    const first = read.lines[0]!;
    expect(first).toMatchObject({
      type: 'run-start',
      runId: result.runId,
      runbook: 'demo',
      runbookFile: '/virtual/demo.yaml',
      runbookHash: runbook.hash,
      runbookSource: source,
      params: { thing: 'alpha' },
      user: { uid: process.getuid!() },
      host: { hostname: os.hostname(), netns: expect.stringMatching(/^net:\[\d+\]$/) },
      engineVersion: expect.any(String),
    });
    expect(read.lines.at(-1)).toMatchObject({ type: 'run-end', status: 'succeeded' });
    const idx = readRunIndex(stateDir, result.runId);
    expect(idx).toMatchObject({ status: 'succeeded', runbook: 'demo', lastSeq: read.lines.length });
    expect(verifyJournal(read, idx)).toBeUndefined();
    // The lock is released.
    expect(existsSync(lockFile(stateDir))).toBe(false);
  });

  it('a failed step: run-end names it and the index says failed', async () => {
    const host = new FakeHost();
    host.failing.add('create alpha');
    const result = await runRunbook({ runbook, params: { thing: 'alpha' }, store: storeAt(stateDir), executor: host });
    expect(result.status).toBe('failed');
    const read = readJournal(journalFile(stateDir, result.runId));
    expect(read.lines.at(-1)).toMatchObject({
      type: 'run-end',
      status: 'failed',
      failedStep: 'make',
      message: 'expected exit status 0, got 1',
    });
    expect(readRunIndex(stateDir, result.runId)?.status).toBe('failed');
  });

  it('--until a step that does not exist: invalid input before the lock, no run recorded', async () => {
    const host = new FakeHost();
    const run = runRunbook({
      runbook,
      params: { thing: 'alpha' },
      store: storeAt(stateDir),
      executor: host,
      stopAfter: 'nosuchstep',
    });
    await expect(run).rejects.toMatchObject({
      code: 'invalid-input',
      exitCode: 2,
      message: '--until nosuchstep: runbook demo has no such step; nothing was changed',
    });
    expect(host.calls).toEqual([]);
    expect(listRunIndexes(stateDir)).toEqual([]);
    expect(existsSync(lockFile(stateDir))).toBe(false);
  });

  it('--until: status stopped in the journal and the index', async () => {
    const host = new FakeHost();
    const result = await runRunbook({
      runbook,
      params: { thing: 'alpha' },
      store: storeAt(stateDir),
      executor: host,
      stopAfter: 'make',
    });
    expect(result.status).toBe('stopped');
    expect(host.calls).toEqual(['has alpha', 'create alpha', 'has alpha']);
    expect(readRunIndex(stateDir, result.runId)?.status).toBe('stopped');
  });

  it('a held lock: exit 3, nothing run, no run recorded', async () => {
    const holder = acquireLock(stateDir, 'run other');
    try {
      const host = new FakeHost();
      await expect(
        runRunbook({ runbook, params: { thing: 'alpha' }, store: storeAt(stateDir), executor: host }),
      ).rejects.toMatchObject({ code: 'locked', exitCode: 3 });
      expect(host.calls).toEqual([]);
      expect(listRunIndexes(stateDir)).toEqual([]);
    } finally {
      holder.release();
    }
  });
});

describe('runs shows a damaged journal as damaged (issue 22)', () => {
  const source = `name: demo
description: demo
steps:
  - id: make
    title: Make it
    why: test
    do: [[create, thing]]
    verify: [{ run: [has, thing] }]
    undo: [[delete, thing]]
`;
  const runbook = parseRunbook(source, '/virtual/demo.yaml');

  /** What \`runbook runs\` (and \`runs --json\`) prints for the state dir. */
  async function runsOutput(json: boolean): Promise<{ out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const ctx = {
      store: storeAt(stateDir, 'read'),
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
    } as unknown as CliContext;
    expect(await runsCommand(ctx, { json })).toBe(0);
    return { out, err };
  }

  it('an entry edited after the run (its undo rewritten): the status is damaged, not succeeded, in text and JSON', async () => {
    const result = await runRunbook({ runbook, params: {}, store: storeAt(stateDir), executor: new FakeHost() });
    expect(result.status).toBe('succeeded');
    expect((await runsOutput(false)).out.join('\n')).toContain(' succeeded ');

    const file = journalFile(stateDir, result.runId);
    // The attack of the issue, without recomputing the chain: the plan's undo now removes more.
    writeFileSync(file, readFileSync(file, 'utf8').replace('"delete","thing"', '"delete","everything"'));

    const text = await runsOutput(false);
    const row = text.out.find((l) => l.startsWith(result.runId)) ?? '';
    expect(row).toContain(' damaged ');
    expect(row).not.toContain('succeeded');
    expect(text.err.join('\n')).toContain(`run ${result.runId} is damaged: its journal is damaged at entry 2`);
    const [listed] = JSON.parse((await runsOutput(true)).out.join('')) as Array<{ status: string; damage: string }>;
    expect(listed).toMatchObject({ status: 'damaged', damage: expect.stringContaining('hash of the previous entry') });
  });

  it('entries cut from the end of the journal: damaged, naming the missing entries', async () => {
    const result = await runRunbook({ runbook, params: {}, store: storeAt(stateDir), executor: new FakeHost() });
    const file = journalFile(stateDir, result.runId);
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    writeFileSync(file, `${lines.slice(0, -2).join('\n')}\n`);
    const row = (await runsOutput(false)).out.find((l) => l.startsWith(result.runId)) ?? '';
    expect(row).toContain(' damaged ');
  });

  it('an entry that is not what any version wrote (a field of the wrong type): damaged, naming the entry and the field (issue 27)', async () => {
    const result = await runRunbook({ runbook, params: {}, store: storeAt(stateDir), executor: new FakeHost() });
    const file = journalFile(stateDir, result.runId);
    // Read by validation, not by cast: a command's exit status as text is damage, found before
    // the chain is checked, and said as such in runs.
    writeFileSync(file, readFileSync(file, 'utf8').replace(/"exitCode":0/, '"exitCode":"0"'));
    const text = await runsOutput(false);
    expect(text.out.find((l) => l.startsWith(result.runId))).toContain(' damaged ');
    expect(text.err.join('\n')).toMatch(/command-end entry \.exitCode is "0", not an integer/);
  });

  it('an intact journal keeps its status', async () => {
    const result = await runRunbook({ runbook, params: {}, store: storeAt(stateDir), executor: new FakeHost() });
    const { out, err } = await runsOutput(false);
    expect(out.find((l) => l.startsWith(result.runId))).toContain(' succeeded ');
    expect(err).toEqual([]);
  });
});
