import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resumeRun, type ResumeOptions } from '../../src/engine/resume.js';
import { rollbackRun, type RollbackOptions } from '../../src/engine/rollback.js';
import { runRunbook, type RunRunbookOptions } from '../../src/engine/run.js';
import { RunbookError } from '../../src/errors.js';
import type { JournalLine } from '../../src/journal/entries.js';
import { indexFile, journalFile, lockFile } from '../../src/journal/paths.js';
import { readJournal, verifyJournal } from '../../src/journal/reader.js';
import { listRunIndexes, readRunIndex } from '../../src/journal/run-index.js';
import { prepareRunbook } from '../../src/runbook/prepare.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { fakeRunbook } from '../helpers/runbooks.js';
import { FakeHost } from '../helpers/fake-executor.js';
import { runbookHashNow } from '../../src/runbook/load.js';
import { storeAt } from '../helpers/store.js';

/**
 * State transitions of a run across processes — run, resume, rollback — with the real engine,
 * journal, index and lock on a temp state dir, and FakeHost standing in for the kernel:
 * `create X` / `has X` / `delete X`. No kernel, no CLI.
 */

let dir: string;
let stateDir: string;
let file: string;
let host: FakeHost;

function writeRunbook(ids: readonly string[] = ['a', 'b', 'c', 'd']): void {
  writeFileSync(file, fakeRunbook(ids));
}

function run(extra: Partial<RunRunbookOptions> = {}) {
  const { runbook, params } = prepareRunbook(file, []);
  return runRunbook({ runbook, params, store: storeAt(stateDir), executor: host, ...extra });
}

function resume(extra: Partial<ResumeOptions> = {}) {
  return resumeRun({
    store: storeAt(stateDir),
    runId: undefined,
    executor: host,
    currentRunbookHash: runbookHashNow,
    ...extra,
  });
}

function rollback(extra: Partial<RollbackOptions> = {}) {
  return rollbackRun({ store: storeAt(stateDir), runId: undefined, executor: host, ...extra });
}

/** The calls FakeHost saw since the last take (and forgets them). */
function takeCalls(): string[] {
  return host.calls.splice(0);
}

function lines(runId: string): JournalLine[] {
  return readJournal(journalFile(stateDir, runId)).lines;
}

function status(runId: string): string | undefined {
  return readRunIndex(stateDir, runId)?.status;
}

const outcomes = (result: { steps: ReadonlyArray<{ stepId: string; outcome: string }> }) =>
  result.steps.map((s) => `${s.stepId} ${s.outcome}`);

async function expectRunbookError(promise: Promise<unknown>, code: string, message?: RegExp): Promise<RunbookError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RunbookError);
  expect((error as RunbookError).code).toBe(code);
  if (message !== undefined) expect((error as RunbookError).message).toMatch(message);
  return error as RunbookError;
}

beforeEach(() => {
  dir = tempDir('runbook-engine-');
  stateDir = path.join(dir, 'state');
  file = path.join(dir, 'fake.yaml');
  host = new FakeHost();
  writeRunbook();
});

afterEach(() => {
  removeDir(dir);
});

/** The final pass of a run of a, b, c, d that ends with d changed: every step before d, verified again. */
const finalPass = ['has a', 'has b', 'has c'];

describe('resume', () => {
  it('continues from the failed step and does not run the finished steps again', async () => {
    host.failing.add('has c'); // c cannot be verified until "fixed"
    const first = await run();
    expect(first.status).toBe('failed');
    expect(first.failure?.stepId).toBe('c');
    expect(outcomes(first)).toEqual(['a changed', 'b changed', 'c failed']);
    expect(takeCalls()).toEqual([
      'has a',
      'create a',
      'has a',
      'has b',
      'create b',
      'has b',
      'has c',
      'create c',
      'has c',
    ]);
    expect(status(first.runId)).toBe('failed');

    host.failing.delete('has c'); // the fix
    const second = await resume();
    expect(second.kind).toBe('resumed');
    if (second.kind !== 'resumed') return;
    expect(second.runId).toBe(first.runId);
    expect(second.status).toBe('succeeded');
    // c starts over with its check (its do did run the first time: now it holds), then d; then
    // the final pass verifies again every step before d, the last that changed the host (issue 28).
    expect(takeCalls()).toEqual(['has c', 'has d', 'create d', 'has d', 'has a', 'has b', 'has c']);
    expect(outcomes(second)).toEqual(['a skipped', 'b skipped', 'c ok', 'd changed']);
    expect(status(first.runId)).toBe('succeeded');

    // The resume is journaled in the run's own journal, as a second attempt: no step-start for
    // the steps it skipped, and the chain still verifies.
    const journal = lines(first.runId);
    const attempt = journal.findIndex((l) => l.type === 'attempt-start');
    expect(journal[attempt]).toMatchObject({ type: 'attempt-start', kind: 'resume', pid: process.pid });
    expect(
      journal
        .slice(attempt)
        .filter((l) => l.type === 'step-start')
        .map((l) => (l as { step: string }).step),
    ).toEqual(['c', 'd']);
    expect(journal.at(-1)).toMatchObject({ type: 'run-end', status: 'succeeded' });
    expect(
      verifyJournal(readJournal(journalFile(stateDir, first.runId)), readRunIndex(stateDir, first.runId)),
    ).toBeUndefined();
  });

  it('does again a step whose do failed', async () => {
    host.failing.add('create c');
    const first = await run();
    expect(first.status).toBe('failed');
    takeCalls();
    host.failing.delete('create c');
    const second = await resume();
    expect(second.kind === 'resumed' && second.status).toBe('succeeded');
    expect(takeCalls()).toEqual(['has c', 'create c', 'has c', 'has d', 'create d', 'has d', ...finalPass]);
    expect([...host.present].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('resumes a run interrupted (SIGINT/SIGTERM) at a safe point where it stopped', async () => {
    const controller = new AbortController();
    const first = await run({
      signal: controller.signal,
      onStep: (report) => report.stepId === 'b' && controller.abort(),
    });
    expect(first.status).toBe('interrupted');
    expect(takeCalls()).toEqual(['has a', 'create a', 'has a', 'has b', 'create b', 'has b']);
    expect(status(first.runId)).toBe('interrupted');
    expect(lines(first.runId).at(-1)).toMatchObject({ type: 'run-end', status: 'interrupted' });

    const second = await resume();
    expect(second.kind === 'resumed' && second.status).toBe('succeeded');
    expect(takeCalls()).toEqual(['has c', 'create c', 'has c', 'has d', 'create d', 'has d', ...finalPass]);
  });

  it('resumes a run stopped by --until after its stop step', async () => {
    const first = await run({ stopAfter: 'b' });
    expect(first.status).toBe('stopped');
    expect(status(first.runId)).toBe('stopped');
    takeCalls();
    const second = await resume();
    expect(second.kind === 'resumed' && second.status).toBe('succeeded');
    expect(takeCalls()).toEqual(['has c', 'create c', 'has c', 'has d', 'create d', 'has d', ...finalPass]);
  });

  it('refuses (invalid-input, nothing run) when the runbook file changed since the run started; --force resumes with the recorded text', async () => {
    host.failing.add('create c');
    const first = await run();
    expect(first.status).toBe('failed');
    takeCalls();
    host.failing.delete('create c');
    writeFileSync(file, readFileSync(file, 'utf8').replace('[[create, c]]', '[[create, z]]'));
    const journalBefore = readFileSync(journalFile(stateDir, first.runId), 'utf8');

    await expectRunbookError(resume(), 'invalid-input', /changed since run/);
    expect(takeCalls()).toEqual([]);
    expect(readFileSync(journalFile(stateDir, first.runId), 'utf8')).toBe(journalBefore);
    expect(status(first.runId)).toBe('failed');
    expect(existsSync(lockFile(stateDir))).toBe(false);

    const notes: string[] = [];
    const forced = await resume({ force: true, onNote: (note) => notes.push(note) });
    expect(forced.kind === 'resumed' && forced.status).toBe('succeeded');
    expect(notes.join('\n')).toMatch(/--force/);
    // The text recorded when the run started, not the edited file.
    expect(takeCalls()).toEqual(['has c', 'create c', 'has c', 'has d', 'create d', 'has d', ...finalPass]);
    const attempt = lines(first.runId).find((l) => l.type === 'attempt-start');
    expect(attempt).toMatchObject({ kind: 'resume', note: expect.stringMatching(/--force/) });
  });

  it('refuses when the runbook file is gone, unless --force', async () => {
    host.failing.add('create c');
    await run();
    host.failing.delete('create c');
    rmSync(file);
    takeCalls();
    await expectRunbookError(resume(), 'invalid-input', /no longer exists/);
    expect(takeCalls()).toEqual([]);
    const forced = await resume({ force: true });
    expect(forced.kind === 'resumed' && forced.status).toBe('succeeded');
  });

  it('has nothing to resume when there is no run, or the run succeeded', async () => {
    expect(await resume()).toMatchObject({ kind: 'nothing' });
    const first = await run();
    expect(first.status).toBe('succeeded');
    takeCalls();
    expect(await resume()).toMatchObject({ kind: 'nothing' });
    expect(await resume({ runId: first.runId })).toMatchObject({
      kind: 'nothing',
      message: expect.stringMatching(/succeeded/),
    });
    expect(takeCalls()).toEqual([]);
  });

  // A process killed right after its run-start entry (RUNBOOK_FAULT_KILL=entry:1; the crash
  // sweep in test/crash hits it) leaves the index written before that entry: status running,
  // no entries recorded, a pid that no longer runs. The run must be listed as interrupted and
  // resumable. This recreates exactly that state.
  it('resumes a run killed right after its run-start entry (index not yet updated)', async () => {
    const first = await run();
    const [runStart] = readFileSync(journalFile(stateDir, first.runId), 'utf8').split('\n');
    writeFileSync(journalFile(stateDir, first.runId), `${runStart}\n`);
    const index = JSON.parse(readFileSync(indexFile(stateDir, first.runId), 'utf8'));
    const deadPid = spawnSync('true').pid as number; // a process that has exited
    writeFileSync(
      indexFile(stateDir, first.runId),
      JSON.stringify({ ...index, status: 'running', finished: undefined, pid: deadPid, lastSeq: 0, lastHash: '' }),
    );
    host.present.clear(); // the crash came before any command
    takeCalls();
    expect(status(first.runId)).toBe('interrupted');

    const second = await resume();
    expect(second).toMatchObject({ kind: 'resumed', runId: first.runId, status: 'succeeded' });
    expect([...host.present].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('has nothing to resume in a rolled-back run', async () => {
    host.failing.add('create c');
    const first = await run();
    expect((await rollback()).kind).toBe('rollback');
    expect(status(first.runId)).toBe('rolled-back');
    host.failing.delete('create c');
    takeCalls();
    expect(await resume()).toMatchObject({ kind: 'nothing' });
    expect(await resume({ runId: first.runId })).toMatchObject({
      kind: 'nothing',
      message: expect.stringMatching(/rolled-back/),
    });
    expect(takeCalls()).toEqual([]);
    expect(host.present.size).toBe(0);
  });
});

describe('rollback', () => {
  it('undoes exactly the steps the run changed, in reverse order, never one that held before the run', async () => {
    writeRunbook(['a', 'b', 'c']);
    host.present.add('b'); // b was there before the run: its step is "ok", not "changed"
    const first = await run();
    expect(outcomes(first)).toEqual(['a changed', 'b ok', 'c changed']);
    takeCalls();

    const result = await rollback();
    expect(result.kind).toBe('rollback');
    if (result.kind !== 'rollback') return;
    expect(result.status).toBe('rolled-back');
    expect(result.planned).toEqual(['c', 'a']);
    expect(takeCalls()).toEqual(['delete c', 'has c', 'delete a', 'has a']);
    expect([...host.present]).toEqual(['b']);
    expect(status(first.runId)).toBe('rolled-back');

    const journal = lines(first.runId);
    expect(journal.find((l) => l.type === 'rollback-start')).toMatchObject({ steps: ['c', 'a'] });
    expect(
      journal
        .filter((l) => l.type === 'step-undone')
        .map((l) => [(l as { step: string }).step, (l as { outcome: string }).outcome]),
    ).toEqual([
      ['c', 'undone'],
      ['a', 'undone'],
    ]);
    expect(journal.at(-1)).toMatchObject({ type: 'rollback-end', status: 'rolled-back' });
  });

  it('undoes a failed step whose do ran (its effect may be there)', async () => {
    host.failing.add('has c'); // create c succeeds, but c is never seen: the step fails
    const first = await run();
    expect(first.status).toBe('failed');
    expect(host.present.has('c')).toBe(true);
    host.failing.delete('has c');
    takeCalls();
    const result = await rollback();
    expect(result).toMatchObject({ kind: 'rollback', status: 'rolled-back', planned: ['c', 'b', 'a'] });
    expect(takeCalls()).toEqual(['delete c', 'has c', 'delete b', 'has b', 'delete a', 'has a']);
    expect(host.present.size).toBe(0);
  });

  it('counts a step whose effect is already gone as undone (its failing undo is not fatal)', async () => {
    await run();
    host.present.delete('b'); // removed by hand since: `delete b` will fail
    takeCalls();
    const result = await rollback();
    expect(result).toMatchObject({ kind: 'rollback', status: 'rolled-back', planned: ['d', 'c', 'b', 'a'] });
    if (result.kind !== 'rollback') return;
    expect(result.steps.map((s) => `${s.stepId} ${s.outcome}`)).toEqual([
      'd undone',
      'c undone',
      'b undone',
      'a undone',
    ]);
    expect(takeCalls()).toEqual(['delete d', 'has d', 'delete c', 'has c', 'delete b', 'has b', 'delete a', 'has a']);
  });

  it('never undoes a step whose do failed and changed nothing (someone else made it)', async () => {
    host.failing.add('create c'); // c's do fails: the run created nothing for c
    await run();
    takeCalls();
    const result = await rollback();
    expect(result).toMatchObject({ kind: 'rollback', status: 'rolled-back', planned: ['b', 'a'] });
    expect(takeCalls()).toEqual(['delete b', 'has b', 'delete a', 'has a']);
  });

  it('stops at an undo that leaves the effect in place; after the fix, rollback again finishes the rest', async () => {
    writeRunbook(['a', 'b', 'c']);
    const first = await run();
    expect(first.status).toBe('succeeded');
    takeCalls();

    host.failing.add('delete b');
    const failed = await rollback();
    expect(failed).toMatchObject({ kind: 'rollback', status: 'failed', planned: ['c', 'b', 'a'] });
    if (failed.kind !== 'rollback') return;
    expect(failed.steps.map((s) => `${s.stepId} ${s.outcome}`)).toEqual(['c undone', 'b undo-failed']);
    expect(failed.steps[1]?.stillHolds).toBe('still in effect: has b still holds');
    // a (which b may depend on) is left alone.
    expect(takeCalls()).toEqual(['delete c', 'has c', 'delete b', 'has b']);
    expect([...host.present].sort()).toEqual(['a', 'b']);
    expect(status(first.runId)).toBe('failed');
    expect(lines(first.runId).at(-1)).toMatchObject({
      type: 'rollback-end',
      status: 'failed',
      message: expect.stringMatching(/step b after its undo: still in effect/),
    });

    // A run half rolled back is not resumed: that would redo what the rollback undid.
    await expectRunbookError(resume(), 'invalid-input', /rolled back/);
    expect(takeCalls()).toEqual([]);

    host.failing.delete('delete b');
    const again = await rollback();
    expect(again).toMatchObject({ kind: 'rollback', status: 'rolled-back', planned: ['b', 'a'] });
    expect(takeCalls()).toEqual(['delete b', 'has b', 'delete a', 'has a']);
    expect(host.present.size).toBe(0);
    expect(status(first.runId)).toBe('rolled-back');
    const attempts = lines(first.runId).filter((l) => l.type === 'attempt-start');
    expect(attempts.at(-1)).toMatchObject({
      kind: 'rollback',
      note: expect.stringMatching(/continuing a rollback: 1 step/),
    });
  });

  it('a rollback interrupted at a safe point is finished by the next rollback', async () => {
    writeRunbook(['a', 'b', 'c']);
    await run();
    takeCalls();
    const controller = new AbortController();
    const interrupted = await rollback({ signal: controller.signal, onUndo: () => controller.abort() });
    expect(interrupted).toMatchObject({ kind: 'rollback', status: 'interrupted' });
    expect(takeCalls()).toEqual(['delete c', 'has c']);
    expect(listRunIndexes(stateDir).map((r) => r.status)).toEqual(['interrupted']);

    const again = await rollback();
    expect(again).toMatchObject({ kind: 'rollback', status: 'rolled-back', planned: ['b', 'a'] });
    expect(takeCalls()).toEqual(['delete b', 'has b', 'delete a', 'has a']);
  });

  it('twice: the second has nothing to do and runs nothing', async () => {
    const first = await run();
    await rollback();
    takeCalls();
    expect(await rollback()).toMatchObject({ kind: 'nothing' });
    expect(await rollback({ runId: first.runId })).toMatchObject({
      kind: 'nothing',
      message: expect.stringMatching(/already rolled back/),
    });
    expect(takeCalls()).toEqual([]);
    expect(status(first.runId)).toBe('rolled-back');
  });

  it('by default targets the latest run that changed something, not a later run that found everything in place', async () => {
    const first = await run();
    const second = await run();
    expect(outcomes(second)).toEqual(['a ok', 'b ok', 'c ok', 'd ok']);
    takeCalls();
    const result = await rollback();
    expect(result).toMatchObject({ kind: 'rollback', runId: first.runId, status: 'rolled-back' });
    expect(host.present.size).toBe(0);
    expect(status(second.runId)).toBe('succeeded');
  });
});

describe('journal integrity', () => {
  /** A failed run (c cannot be verified), so that both resume and rollback have work to do. */
  async function failedRun(): Promise<string> {
    host.failing.add('has c');
    const first = await run();
    expect(first.status).toBe('failed');
    host.failing.delete('has c');
    takeCalls();
    return first.runId;
  }

  function rawLines(runId: string): string[] {
    return readFileSync(journalFile(stateDir, runId), 'utf8').split('\n').slice(0, -1);
  }

  function writeLines(runId: string, raw: readonly string[]): void {
    writeFileSync(journalFile(stateDir, runId), raw.map((l) => `${l}\n`).join(''));
  }

  async function expectBothRefuse(runId: string, message: RegExp): Promise<void> {
    const before = readFileSync(journalFile(stateDir, runId), 'utf8');
    const presentBefore = [...host.present].sort();
    await expectRunbookError(resume(), 'journal-damaged', message);
    await expectRunbookError(rollback(), 'journal-damaged', message);
    // Nothing run, nothing appended, the lock released.
    expect(takeCalls()).toEqual([]);
    expect([...host.present].sort()).toEqual(presentBefore);
    expect(readFileSync(journalFile(stateDir, runId), 'utf8')).toBe(before);
    expect(existsSync(lockFile(stateDir))).toBe(false);
  }

  it('resume and rollback refuse a journal with an altered line, naming the entry after it', async () => {
    const runId = await failedRun();
    const raw = rawLines(runId);
    const at = raw.findIndex(
      (l) => l.includes('"type":"command-end"') && l.includes('"step":"b"') && l.includes('"exitCode":0'),
    );
    expect(at).toBeGreaterThan(0);
    raw[at] = (raw[at] as string).replace('"exitCode":0', '"exitCode":1');
    expect(raw[at]).toContain('"exitCode":1');
    writeLines(runId, raw);
    // Line at+1 (1-based) is altered; the chain breaks at the next one, which names it.
    await expectBothRefuse(runId, new RegExp(`damaged at entry ${at + 2}:`));
  });

  it('refuse a journal with a line removed from the middle', async () => {
    const runId = await failedRun();
    const raw = rawLines(runId);
    raw.splice(5, 1);
    writeLines(runId, raw);
    await expectBothRefuse(runId, /damaged at entry 6: sequence number 7/);
  });

  it('refuse a journal with two lines swapped', async () => {
    const runId = await failedRun();
    const raw = rawLines(runId);
    [raw[3], raw[4]] = [raw[4] as string, raw[3] as string];
    writeLines(runId, raw);
    await expectBothRefuse(runId, /damaged at entry 4:/);
  });

  it('refuse a journal whose last entries were removed (the index still records them)', async () => {
    const runId = await failedRun();
    const raw = rawLines(runId);
    writeLines(runId, raw.slice(0, -2));
    await expectBothRefuse(
      runId,
      new RegExp(`damaged at entry ${raw.length - 1}: the run's index records ${raw.length} entries`),
    );
  });

  it('refuse a journal with a line that is not JSON', async () => {
    const runId = await failedRun();
    const raw = rawLines(runId);
    raw[2] = (raw[2] as string).slice(0, 20);
    writeLines(runId, raw);
    await expectBothRefuse(runId, /line 3 is damaged/);
  });

  it('a torn last line (a crash mid-write) is cut off with a note, and the chain goes on from the last whole entry', async () => {
    const runId = await failedRun();
    const intact = readFileSync(journalFile(stateDir, runId), 'utf8');
    writeFileSync(journalFile(stateDir, runId), `${intact}{"level":30,"time":"2026-`);
    const notes: string[] = [];
    const result = await resume({ onNote: (note) => notes.push(note) });
    expect(result.kind === 'resumed' && result.status).toBe('succeeded');
    expect(notes.join('\n')).toMatch(/torn/);
    const after = readFileSync(journalFile(stateDir, runId), 'utf8');
    expect(after.startsWith(intact)).toBe(true);
    expect(verifyJournal(readJournal(journalFile(stateDir, runId)), readRunIndex(stateDir, runId))).toBeUndefined();
  });
});

describe('lock', () => {
  function writeLock(pid: number): void {
    writeFileSync(
      lockFile(stateDir),
      `${JSON.stringify({ pid, command: 'run fake', since: '2026-01-01T00:00:00.000Z' })}\n`,
    );
  }

  it('run, resume and rollback refuse (locked) while a live process holds the lock, naming its pid; nothing is run', async () => {
    await run(); // a run to resume / roll back, and the state dir
    takeCalls();
    writeLock(process.pid); // this very process: alive
    const holder = new RegExp(`pid ${process.pid} \\(run fake\\)`);
    await expectRunbookError(run(), 'locked', holder);
    await expectRunbookError(resume(), 'locked', holder);
    await expectRunbookError(rollback(), 'locked', holder);
    expect(takeCalls()).toEqual([]);
    expect(listRunIndexes(stateDir)).toHaveLength(1);
    // The holder's lock is left in place.
    expect(JSON.parse(readFileSync(lockFile(stateDir), 'utf8'))).toMatchObject({ pid: process.pid });
  });

  it('a lock left by a dead process is taken over, with a note', async () => {
    await run();
    const dead = spawnSync('true').pid as number; // exited: its pid names no process now
    writeLock(dead);
    const notes: string[] = [];
    const result = await rollback({ onNote: (note) => notes.push(note) });
    expect(result).toMatchObject({ kind: 'rollback', status: 'rolled-back' });
    expect(notes).toEqual([expect.stringMatching(new RegExp(`took over the lock left by pid ${dead} \\(run fake`))]);
    expect(existsSync(lockFile(stateDir))).toBe(false);
  });

  it('is released after every command, whatever its outcome', async () => {
    host.failing.add('has c');
    await run();
    expect(existsSync(lockFile(stateDir))).toBe(false);
    await resume();
    expect(existsSync(lockFile(stateDir))).toBe(false);
    host.failing.add('delete b');
    host.failing.delete('has c');
    await rollback();
    expect(existsSync(lockFile(stateDir))).toBe(false);
  });
});
