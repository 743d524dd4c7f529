import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { awaitingHere, unguardedHere } from '../../src/engine/confirm-within/awaiting.js';
import { confirmRun } from '../../src/engine/confirm-within/confirm.js';
import { extendDeadline } from '../../src/engine/confirm-within/extend.js';
import type { RevertLaunch } from '../../src/engine/confirm-within/guard.js';
import { dueHere, revertDueRuns } from '../../src/engine/confirm-within/revert-due.js';
import { runRunbook } from '../../src/engine/run.js';
import type { JournalLine } from '../../src/journal/entries.js';
import { journalFile } from '../../src/journal/paths.js';
import { readJournal } from '../../src/journal/reader.js';
import { readRunIndex } from '../../src/journal/run-index.js';
import { isSameProcess } from '../../src/host/process-start.js';
import { prepareRunbook } from '../../src/runbook/prepare.js';
import { runbookInProcess } from '../helpers/cli-in-process.js';
import { FakeHost } from '../helpers/fake-executor.js';
import { fakeRunbook } from '../helpers/runbooks.js';
import { storeAt } from '../helpers/store.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Confirm by change, not by recency (issue 24), with the real engine, journal and markers on a
 * temp state dir and FakeHost for the kernel. The guards are real detached processes: a tiny
 * node program that says "armed" on fd 3 and sleeps (what the watchdog does until its
 * deadline), killed by pid when each test ends.
 */

let dir: string;
let stateDir: string;
let host: FakeHost;

/** Stands in for `runbook __watchdog`: armed at once, then asleep until killed. */
const sleeper = [process.execPath, '-e', "require('fs').writeSync(3, 'armed\\n'); setInterval(() => {}, 1e9)"];
const launch: RevertLaunch = {
  prefer: 'watchdog',
  watchdog: () => ({ argv: sleeper, env: { PATH: process.env.PATH } }),
  atDeadline: () => ({ argv: sleeper, env: {} }),
};

function writeRunbook(name: string, ids: readonly string[]): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, fakeRunbook(ids, name));
  return file;
}

async function apply(file: string, withinMs: number, options: { launch?: RevertLaunch } = {}) {
  const { runbook, params } = prepareRunbook(file, []);
  const result = await runRunbook({
    runbook,
    params,
    store: storeAt(stateDir),
    executor: host,
    confirmWithin: { ms: withinMs, revertLaunch: options.launch ?? launch },
  });
  expect(result.status).toBe('succeeded');
  return result;
}

function lines(runId: string): JournalLine[] {
  return readJournal(journalFile(stateDir, runId)).lines;
}

function entries<T extends JournalLine['type']>(runId: string, type: T): Array<Extract<JournalLine, { type: T }>> {
  return lines(runId).filter((l): l is Extract<JournalLine, { type: T }> => l.type === type);
}

const status = (runId: string) => readRunIndex(stateDir, runId)?.status;

function killGuards(): void {
  for (const id of readdirRuns())
    for (const w of entries(id, 'watchdog-started'))
      if (isSameProcess(w.pid, w.startTime)) process.kill(w.pid, 'SIGKILL');
}

function readdirRuns(): string[] {
  return storeAt(stateDir)
    .listRuns()
    .map((r) => r.id);
}

beforeEach(() => {
  dir = tempDir('runbook-confirm-by-change-');
  stateDir = path.join(dir, 'state');
  host = new FakeHost();
});

afterEach(() => {
  killGuards();
  removeDir(dir);
});

describe('a re-apply while a run awaits confirmation joins it', () => {
  it('the wrong-run scenario: confirming the re-apply, which changed nothing, keeps the run that made the changes, and says which', async () => {
    const file = writeRunbook('fake', ['a', 'b', 'c']);
    const first = await apply(file, 90_000);
    const second = await apply(file, 600_000);
    expect(second.steps.map((s) => s.outcome)).toEqual(['ok', 'ok', 'ok']);

    // One pending change: the re-apply joined the first run, and both wait for the later deadline.
    expect(second.provisional).toMatchObject({ kind: 'armed', joined: [{ runId: first.runId, changesInEffect: 3 }] });
    const deadline = second.provisional?.kind === 'armed' ? second.provisional.deadline : '';
    expect(entries(second.runId, 'confirm-pending')[0]?.joined).toEqual([first.runId]);
    expect(entries(first.runId, 'deadline-moved')).toMatchObject([{ deadline, why: 'joined', by: second.runId }]);
    expect(readRunIndex(stateDir, first.runId)?.confirmBy).toBe(deadline);
    // The first run's guard was re-armed for the new deadline, and the old one stopped.
    const [oldGuard, newGuard] = entries(first.runId, 'watchdog-started');
    expect(isSameProcess(oldGuard!.pid, oldGuard!.startTime)).toBe(false);
    expect(isSameProcess(newGuard!.pid, newGuard!.startTime)).toBe(true);

    // What the Ansible module of issue 14 did: confirm the latest run by its id.
    const result = await confirmRun({ store: storeAt(stateDir), runId: second.runId, executor: host });
    expect(result).toMatchObject({
      kind: 'confirmed',
      runs: [
        { runId: first.runId, changesInEffect: 3, guardStopped: true },
        { runId: second.runId, changesInEffect: 0, guardStopped: true },
      ],
    });
    expect([status(first.runId), status(second.runId)]).toEqual(['confirmed', 'confirmed']);
    expect(entries(first.runId, 'confirmed')[0]?.together).toEqual([second.runId]);
    expect(storeAt(stateDir).pendingConfirmations()).toEqual([]);
    // Long after every deadline, nothing is due and the change stays.
    expect(dueHere(storeAt(stateDir), Date.now() + 3_600_000)).toEqual([]);
    expect([...host.present].sort()).toEqual(['a', 'b', 'c']);
  });

  it('a re-apply with a shorter window keeps the earlier run’s later deadline: a re-apply never brings a deadline closer', async () => {
    const file = writeRunbook('fake', ['a']);
    const first = await apply(file, 600_000);
    const second = await apply(file, 60_000);
    const firstDeadline = entries(first.runId, 'confirm-pending')[0]?.deadline;
    expect(second.provisional).toMatchObject({ kind: 'armed', deadline: firstDeadline });
    expect(entries(first.runId, 'deadline-moved')).toEqual([]);
  });

  it('runs of another runbook are not joined, and confirming one runbook leaves the other awaiting', async () => {
    const one = await apply(writeRunbook('one', ['a']), 60_000);
    const two = await apply(writeRunbook('two', ['b']), 120_000);
    expect(two.provisional).toMatchObject({ kind: 'armed', joined: [] });
    const result = await confirmRun({ store: storeAt(stateDir), runbook: 'two', executor: host });
    expect(result).toMatchObject({ kind: 'confirmed', runs: [{ runId: two.runId }] });
    expect([status(one.runId), status(two.runId)]).toEqual(['awaiting-confirmation', 'confirmed']);
    // Without a run id or a runbook: every run awaiting here, each named.
    const all = await confirmRun({ store: storeAt(stateDir), executor: host });
    expect(all).toMatchObject({ kind: 'confirmed', runs: [{ runId: one.runId, runbook: 'one' }] });
  });

  it('unconfirmed, the runs that joined are reverted together at their deadline, newest first', async () => {
    const file = writeRunbook('fake', ['a', 'b']);
    const first = await apply(file, 60_000);
    host.present.add('c'); // something else, which no run made
    const second = await apply(writeRunbook('fake', ['a', 'b', 'd']), 60_000);
    const later = () => Date.now() + 120_000;
    const due = dueHere(storeAt(stateDir), later());
    expect(due.map((m) => m.runId)).toEqual([second.runId, first.runId]);
    host.calls.splice(0);
    const outcomes = await revertDueRuns({
      store: storeAt(stateDir),
      runIds: due.map((m) => m.runId),
      executor: host,
      lockWaitMs: 0,
      now: later,
    });
    expect(outcomes.map((o) => o.kind)).toEqual(['reverted', 'reverted']);
    expect(host.calls.filter((c) => c.startsWith('delete'))).toEqual(['delete d', 'delete b', 'delete a']);
    expect([status(first.runId), status(second.runId)]).toEqual(['reverted', 'reverted']);
    expect([...host.present]).toEqual(['c']);
  });
});

describe('a re-apply with other values while a run awaits confirmation (issue 23)', () => {
  it('is refused when it would undo steps of the awaiting run, nothing changed; one that only adds steps joins it', async () => {
    const first = await apply(writeRunbook('fake', ['a', 'b']), 60_000);
    host.calls.splice(0);
    // b is gone from the new plan: replacing would undo it, which a pending revert could not restore.
    const { runbook, params } = prepareRunbook(writeRunbook('fake', ['a', 'c']), []);
    const refused = await runRunbook({ runbook, params, store: storeAt(stateDir), executor: host }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(refused?.message).toContain(`run ${first.runId} of fake, with other values, awaits confirmation`);
    expect(host.calls.filter((c) => /^(create|delete)/.test(c))).toEqual([]);
    expect(status(first.runId)).toBe('awaiting-confirmation');
    const joined = await apply(writeRunbook('fake', ['a', 'b', 'd']), 60_000);
    expect(joined.replaced).toBeUndefined();
    expect(joined.provisional).toMatchObject({ kind: 'armed', joined: [{ runId: first.runId }] });
    expect(status(first.runId)).toBe('awaiting-confirmation');
  });
});

describe('confirm --extend', () => {
  it('moves the deadline of every run of the runbook awaiting here, re-arming their guards; confirm keeps them after the old deadline', async () => {
    const file = writeRunbook('fake', ['a']);
    const first = await apply(file, 60_000);
    const second = await apply(file, 30_000);
    const before = Date.now();
    const result = await extendDeadline({ store: storeAt(stateDir), runId: first.runId, withinMs: 600_000, launch });
    expect(result.kind).toBe('extended');
    const runs = result.kind === 'extended' ? result.runs : [];
    expect(runs.map((r) => r.runId)).toEqual([first.runId, second.runId]);
    const deadline = Date.parse(runs[0]?.deadline ?? '');
    expect(deadline).toBeGreaterThanOrEqual(before + 600_000);
    for (const id of [first.runId, second.runId]) {
      expect(entries(id, 'deadline-moved').at(-1)).toMatchObject({ why: 'extend', deadline: runs[0]?.deadline });
      const guards = entries(id, 'watchdog-started');
      expect(guards.filter((g) => isSameProcess(g.pid, g.startTime))).toEqual([guards.at(-1)]);
    }
    // The old deadline passes: nothing is due.
    expect(dueHere(storeAt(stateDir), before + 120_000)).toEqual([]);
    const confirmed = await confirmRun({ store: storeAt(stateDir), executor: host, now: () => before + 120_000 });
    expect(confirmed).toMatchObject({ kind: 'confirmed' });
  });

  it('can bring a deadline closer when asked, and cannot move one that has passed', async () => {
    const file = writeRunbook('fake', ['a']);
    const run = await apply(file, 600_000);
    const result = await extendDeadline({ store: storeAt(stateDir), withinMs: 1_000, launch });
    expect(result).toMatchObject({ kind: 'extended', runs: [{ runId: run.runId }] });
    await expect(
      extendDeadline({ store: storeAt(stateDir), withinMs: 60_000, launch, now: () => Date.now() + 5_000 }),
    ).rejects.toThrow(/passed their deadline .* unconfirmed: too late to move it; nothing was changed/);
  });

  it('a confirmed run has no deadline to move: refused, nothing changed', async () => {
    const run = await apply(writeRunbook('fake', ['a']), 60_000);
    await confirmRun({ store: storeAt(stateDir), executor: host });
    const before = lines(run.runId).length;
    await expect(
      extendDeadline({ store: storeAt(stateDir), runId: run.runId, withinMs: 60_000, launch }),
    ).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/there is no deadline to move/) });
    expect(lines(run.runId)).toHaveLength(before);
  });
});

/**
 * The exit codes of `confirm` and `confirm --extend`, through the CLI (in this process): one
 * answer for one situation, whichever of the two is asked, and a refusal is an error with the
 * `runbook:` prefix. The runs are made with the engine and FakeHost, as above.
 */
describe('confirm and confirm --extend answer alike', () => {
  const cli = (...args: string[]) => runbookInProcess(['--state-dir', stateDir, 'confirm', ...args]);

  it('with nothing awaiting, both exit 0 ("nothing to do"), in an empty state dir as after a confirmed run', async () => {
    for (const args of [[], ['--extend', '5m']]) {
      const empty = await cli(...args);
      expect([empty.exitCode, empty.stderr], args.join(' ')).toEqual([0, '']);
      expect(empty.stdout).toContain('no run awaits confirmation');
    }
    const run = await apply(writeRunbook('fake', ['a']), 60_000);
    await confirmRun({ store: storeAt(stateDir), executor: host });
    for (const args of [[], ['--extend', '5m']]) {
      const after = await cli(...args);
      expect([after.exitCode, after.stderr], args.join(' ')).toEqual([0, '']);
      expect(after.stdout).toContain(`no run awaits confirmation`);
      expect(after.stdout).toContain(`(the latest, run ${run.runId}, was confirmed at `);
    }
  });

  it('a run made without --confirm-within: both refuse it with exit 2 and the runbook: prefix', async () => {
    const { runbook, params } = prepareRunbook(writeRunbook('fake', ['a']), []);
    const run = await runRunbook({ runbook, params, store: storeAt(stateDir), executor: host });
    for (const args of [[run.runId], ['--extend', '5m', run.runId]]) {
      const refused = await cli(...args);
      expect(refused.exitCode, args.join(' ')).toBe(2);
      expect(refused.stderr).toMatch(new RegExp(`^runbook: run ${run.runId} was not left awaiting confirmation`));
    }
  });

  it('a confirmed run: confirm again is a no-op (0); --extend is refused (2, there is no deadline to move)', async () => {
    const run = await apply(writeRunbook('fake', ['a']), 60_000);
    await confirmRun({ store: storeAt(stateDir), executor: host });
    const again = await cli(run.runId);
    expect([again.exitCode, again.stderr]).toEqual([0, '']);
    expect(again.stdout).toContain(`run ${run.runId} was already confirmed`);
    const extend = await cli('--extend', '5m', run.runId);
    expect(extend.exitCode).toBe(2);
    expect(extend.stderr).toMatch(
      new RegExp(`^runbook: run ${run.runId} was confirmed at .*there is no deadline to move`),
    );
  });

  it('a reverted run: both say too late, exit 1, --extend with the runbook: prefix', async () => {
    const run = await apply(writeRunbook('fake', ['a']), 60_000);
    const later = () => Date.now() + 120_000;
    await revertDueRuns({ store: storeAt(stateDir), runIds: [run.runId], executor: host, lockWaitMs: 0, now: later });
    expect(status(run.runId)).toBe('reverted');
    const confirm = await cli(run.runId);
    expect(confirm.exitCode).toBe(1);
    expect(confirm.stderr).toContain(`run ${run.runId} was not confirmed by its deadline`);
    const extend = await cli('--extend', '5m', run.runId);
    expect(extend.exitCode).toBe(1);
    expect(extend.stderr).toMatch(
      new RegExp(`^runbook: run ${run.runId} was not confirmed by its deadline .*: it was reverted at `),
    );
  });
});

describe('a guard that is gone', () => {
  it('is listed as unguarded until its deadline; re-armed by extend, it is guarded again', async () => {
    const run = await apply(writeRunbook('fake', ['a']), 60_000);
    expect(await unguardedHere(storeAt(stateDir))).toEqual([]);
    const [watchdog] = entries(run.runId, 'watchdog-started');
    process.kill(watchdog!.pid, 'SIGKILL');
    for (let i = 0; i < 200 && isSameProcess(watchdog!.pid, watchdog!.startTime); i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await unguardedHere(storeAt(stateDir))).map((r) => r.index.id)).toEqual([run.runId]);
    // Past its deadline it is no longer "unguarded": it is due (the next command reverts it).
    expect(await unguardedHere(storeAt(stateDir), Date.now() + 120_000)).toEqual([]);
    await extendDeadline({ store: storeAt(stateDir), withinMs: 60_000, launch });
    expect(await unguardedHere(storeAt(stateDir))).toEqual([]);
  });

  it('a guard that cannot be armed: the run is reverted at once rather than left unguarded', async () => {
    const broken: RevertLaunch = { ...launch, watchdog: () => ({ argv: ['/nonexistent/runbook'], env: {} }) };
    const result = await apply(writeRunbook('fake', ['a']), 60_000, { launch: broken });
    expect(result.provisional).toMatchObject({
      kind: 'not-armed',
      rollback: { kind: 'rollback', status: 'rolled-back' },
    });
    expect(host.present.size).toBe(0);
    expect(awaitingHere(storeAt(stateDir))).toEqual([]);
  });
});
