import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import {
  changesLeft,
  inSandbox,
  journalIds,
  journalLines,
  journalProblem,
  onlyRunId,
  replaceValues,
  runs,
  slice,
  type Reference,
  type ReplaceReference,
} from '../helpers/cli-harness.js';
import { SandboxHost } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * The crash-point sweep: the runbook process is killed with SIGKILL (RUNBOOK_FAULT_KILL, see
 * src/fault/kill-points.ts) at every journal entry and after every command of a run of
 * single-container, and from every such crash
 *   (a) `resume` must finish the run: exit 0, the kernel state equal to an uninterrupted run's;
 *   (b) `rollback` (after the same crash, repeated in another fresh sandbox host) must restore
 *       the sandbox exactly as it was before the run: nothing leaked.
 * And a rollback killed at each of its own entries must be finished by a second rollback.
 *
 * The sweep is split over several files (by kind and range of crash point) so that vitest's
 * workers run them in parallel. The reference run is measured once before any of them (a
 * global setup): the figures (how many entries and commands a run makes) come from the engine,
 * not from this file.
 */

const runbook = 'single-container';

/** The reference figures, measured once for the whole sweep (test/setup/crash-reference.ts). */
export function reference(): Reference {
  return inject('crashReference');
}

/** The reference of a replace (issue 23), measured once too. */
export function replaceReference(): ReplaceReference {
  return inject('replaceReference');
}

/** Runs single-container with a kill point; the process must die by SIGKILL. */
async function crashedRun(host: SandboxHost, stateDir: string, point: string): Promise<void> {
  const result = await host.runbook(['--state-dir', stateDir, 'run', runbook], { env: { RUNBOOK_FAULT_KILL: point } });
  expect(
    result.signal,
    `run with RUNBOOK_FAULT_KILL=${point} should be killed (exit ${result.exitCode}: ${result.stderr})`,
  ).toBe('SIGKILL');
}

/** What the journal holds right after a crash at `point`: exactly what was durable before it. */
function expectJournalAtCrash(stateDir: string, kind: 'entry' | 'command', n: number, entriesBefore = 0): void {
  const id = onlyRunId(stateDir);
  const lines = journalLines(stateDir, id);
  if (kind === 'entry') {
    expect(lines).toHaveLength(entriesBefore + n);
  } else {
    // Killed after the n-th command finished, before its result was journaled: the journal
    // ends with that command's start entry.
    const starts = lines.slice(entriesBefore).filter((l) => l.type === 'command-start');
    expect(starts).toHaveLength(n);
    expect(lines.at(-1)?.type).toBe('command-start');
  }
  // Whatever was written is intact (hash chain; an index, where there is one, agrees).
  expect(journalProblem(stateDir, id)).toBeUndefined();
}

/** Whether a run's journal shows a `do` command started (the run may have changed the host). */
function changedAnything(stateDir: string, runId: string): boolean {
  return journalLines(stateDir, runId).some((l) => l.type === 'command-start' && l.phase === 'do');
}

/**
 * Crash points at which (a) fails because of a known src bug, registered with it.fails and the
 * reason in the test name, so the sweep stays green while the bug is there and turns red the
 * day it is fixed. None at present (entry:1, a run with no index yet, was fixed by writing
 * the index before the first entry).
 */
const knownResumeBugs: ReadonlyMap<string, string> = new Map();

export interface RunSweepOptions {
  kind: 'entry' | 'command';
  part: number;
  of: number;
}

/** Registers the (a) and (b) tests of one slice of the run sweep. */
export function defineRunSweep(ref: Reference, options: RunSweepOptions): void {
  const { kind, part, of } = options;
  const total = kind === 'entry' ? ref.runEntries : ref.runCommands;
  const points = slice(total, part, of);
  const started = performance.now();
  let covered = 0;
  const bugs = points.filter((n) => knownResumeBugs.has(`${kind}:${n}`)).length;

  afterAll(() => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `crash sweep, run killed at ${kind}:${points[0]}..${points.at(-1)} of ${total} ` +
        `(reference run: ${ref.runEntries} entries, ${ref.runCommands} commands): ${points.length} crash points, ` +
        `${covered} of ${points.length * 2} scenarios (resume, rollback) passed` +
        `${bugs > 0 ? `, ${bugs} resume scenario(s) failing as a known bug (it.fails)` : ''}; ${seconds} s`,
    );
  });

  for (const n of points) {
    const point = `${kind}:${n}`;
    const label = (kind === 'entry' ? ref.runEntryLabels : ref.runCommandLabels)[n - 1];
    const bug = knownResumeBugs.get(point);
    const resumeTest = bug === undefined ? it : it.fails;
    resumeTest(
      `run killed at ${point} [${label}] → resume finishes it: exit 0, the tutorial's end state${bug ? ` [KNOWN BUG: ${bug}]` : ''}`,
      async () => {
        await inSandbox(async (host, stateDir) => {
          await crashedRun(host, stateDir, point);
          expectJournalAtCrash(stateDir, kind, n);
          const id = onlyRunId(stateDir);
          // A dead run's status comes from its journal: interrupted, unless it was killed after
          // writing its run-end (and before its index), which then says how it ended.
          const last = journalLines(stateDir, id).at(-1);
          expect(runs(stateDir).map((r) => [r.id, r.status])).toEqual([
            [id, last?.type === 'run-end' ? last.status : 'interrupted'],
          ]);

          const resume = await host.runbook(['--state-dir', stateDir, 'resume']);
          expect(resume.exitCode, resume.stderr).toBe(0);
          expect(await host.snapshot()).toEqual(ref.end);
          expect(runs(stateDir).map((r) => [r.id, r.status])).toEqual([[id, 'succeeded']]);
          expect(journalProblem(stateDir, id)).toBeUndefined();
        });
        covered += 1;
      },
    );

    it(`run killed at ${point} [${label}] → rollback restores the sandbox as it was: nothing leaked`, async () => {
      await inSandbox(async (host, stateDir) => {
        await crashedRun(host, stateDir, point);
        expectJournalAtCrash(stateDir, kind, n);

        const rollback = await host.runbook(['--state-dir', stateDir, 'rollback']);
        expect(rollback.exitCode, rollback.stderr).toBe(0);
        expect(await host.snapshot()).toEqual(ref.before);
        // Every journal is intact, and no run is left with changes to undo: a run killed before
        // its first `do` changed nothing, so rollback has nothing to do ("nothing to roll
        // back", exit 0) and the run stays interrupted (resumable); any other is rolled back.
        for (const id of journalIds(stateDir)) {
          expect(journalProblem(stateDir, id)).toBeUndefined();
          expect(changesLeft(stateDir, id)).toEqual([]);
        }
        for (const r of runs(stateDir))
          expect(r.status).toBe(changedAnything(stateDir, r.id) ? 'rolled-back' : 'interrupted');
      });
      covered += 1;
    });
  }
}

/** Registers one slice of the rollback sweep: a complete run, a rollback killed at entry n, rollback again. */
export function defineRollbackSweep(ref: Reference, options: { part: number; of: number }): void {
  const points = slice(ref.rollbackEntries, options.part, options.of);
  const started = performance.now();
  let covered = 0;

  afterAll(() => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `crash sweep, rollback killed at entry:${points[0]}..${points.at(-1)} of ${ref.rollbackEntries} ` +
        `(reference: a rollback appends ${ref.rollbackEntries} entries, ${ref.rollbackCommands} commands): ` +
        `${points.length} crash points, ${covered} of ${points.length} passed; ${seconds} s`,
    );
  });

  /** A complete run, then a rollback killed at entry n; returns the run's id. */
  async function crashedRollback(host: SandboxHost, stateDir: string, n: number): Promise<string> {
    const run = await host.runbook(['--state-dir', stateDir, 'run', runbook]);
    expect(run.exitCode, run.stderr).toBe(0);
    const crashed = await host.runbook(['--state-dir', stateDir, 'rollback'], {
      env: { RUNBOOK_FAULT_KILL: `entry:${n}` },
    });
    expect(
      crashed.signal,
      `rollback with entry:${n} should be killed (exit ${crashed.exitCode}: ${crashed.stderr})`,
    ).toBe('SIGKILL');
    expectJournalAtCrash(stateDir, 'entry', n, ref.runEntries);
    return onlyRunId(stateDir);
  }

  for (const n of points) {
    const label = ref.rollbackEntryLabels[n - 1];
    it(`rollback killed at entry:${n} [${label}] → rollback again: exit 0, the sandbox as before the run`, async () => {
      await inSandbox(async (host, stateDir) => {
        const id = await crashedRollback(host, stateDir, n);
        const again = await host.runbook(['--state-dir', stateDir, 'rollback']);
        expect(again.exitCode, again.stderr).toBe(0);
        expect(await host.snapshot()).toEqual(ref.before);
        expect(changesLeft(stateDir, id)).toEqual([]);
        expect(journalProblem(stateDir, id)).toBeUndefined();
        expect(runs(stateDir).map((r) => [r.id, r.status])).toEqual([[id, 'rolled-back']]);
      });
      covered += 1;
    });
  }
}

/**
 * Registers one slice of the replace sweep (issue 23): single-container re-applied with other
 * values and --replace, the replacing process killed right after each journal entry it appends
 * (in either journal: its own, or the undo and hand-over in the earlier run's). From every crash,
 * `resume` must converge: exit 0, exactly the host an uninterrupted replace leaves, the earlier
 * run replaced, the new one succeeded, every journal intact.
 *
 * To keep the tier's time modest, the crash points of a slice follow one another in one sandbox
 * host: the values go back and forth (defaults → replaceValues → defaults …), each replace
 * replacing the run the previous point converged to, so that only the first point pays for a
 * first run. (Both directions undo and redo the same three steps: the same entries, in the same
 * order.) At every `rollbackEvery`-th point (and the last), a fresh sandbox host checks that
 * `rollback --all` straight after the crash leaves the host as before the first run: the two
 * runs never leave a step that neither answers for.
 */
export function defineReplaceSweep(
  ref: ReplaceReference,
  options: { part: number; of: number; rollbackEvery: number },
): void {
  const points = slice(ref.entries, options.part, options.of);
  const started = performance.now();
  let covered = 0;
  let scenarios = 0;
  let host: SandboxHost | undefined;
  const stateDir = tempDir('runbook-replace-sweep-');
  /** Whether the values in effect in the shared host are replaceValues (else the defaults). */
  let replacedValuesInEffect = false;

  beforeAll(async () => {
    host = await SandboxHost.create();
    const first = await host.runbook(['--state-dir', stateDir, 'run', runbook]);
    expect(first.exitCode, first.stderr).toBe(0);
  });

  afterAll(() => {
    host?.dispose();
    removeDir(stateDir);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `crash sweep, replace killed at entry:${points[0]}..${points.at(-1)} of ${ref.entries}: ` +
        `${points.length} crash points, ${covered} of ${scenarios} scenarios (resume, and rollback --all at some) passed; ${seconds} s`,
    );
  });

  /** Replaces the values in effect by the others, killed at entry n; returns the replacing run's id. */
  async function crashedReplace(on: SandboxHost, dir: string, values: readonly string[], n: number): Promise<string> {
    const before = journalIds(dir);
    const crashed = await on.runbook(['--state-dir', dir, 'run', runbook, ...values, '--replace'], {
      env: { RUNBOOK_FAULT_KILL: `entry:${n}` },
    });
    expect(
      crashed.signal,
      `replace with entry:${n} should be killed (exit ${crashed.exitCode}: ${crashed.stderr})`,
    ).toBe('SIGKILL');
    for (const id of journalIds(dir)) expect(journalProblem(dir, id)).toBeUndefined();
    const mine = journalIds(dir).filter((id) => !before.includes(id));
    expect(mine).toHaveLength(1);
    return mine[0] as string;
  }

  for (const n of points) {
    const label = ref.entryLabels[n - 1];
    scenarios += 1;
    it(`replace killed at entry:${n} [${label}] → resume converges to the host an uninterrupted replace leaves`, async () => {
      if (host === undefined) throw new Error('no sandbox host');
      const toReplaced = !replacedValuesInEffect;
      const mine = await crashedReplace(host, stateDir, toReplaced ? replaceValues : [], n);
      replacedValuesInEffect = toReplaced;
      const resume = await host.runbook(['--state-dir', stateDir, 'resume']);
      expect(resume.exitCode, `${resume.stderr}${resume.stdout}`).toBe(0);
      expect(await host.snapshot()).toEqual(toReplaced ? ref.replaced : ref.applied);
      const all = runs(stateDir);
      expect(all.at(-1)).toMatchObject({ id: mine, status: 'succeeded' });
      expect(all.slice(0, -1).map((r) => r.status)).toEqual(all.slice(0, -1).map(() => 'replaced'));
      for (const id of journalIds(stateDir)) expect(journalProblem(stateDir, id)).toBeUndefined();
      covered += 1;
    });
    if (n % options.rollbackEvery !== 0 && n !== ref.entries) continue;
    scenarios += 1;
    it(`replace killed at entry:${n} [${label}] → rollback --all leaves the host as before the first run`, async () => {
      await inSandbox(async (fresh, dir) => {
        const first = await fresh.runbook(['--state-dir', dir, 'run', runbook]);
        expect(first.exitCode, first.stderr).toBe(0);
        await crashedReplace(fresh, dir, replaceValues, n);
        const all = await fresh.runbook(['--state-dir', dir, 'rollback', '--all']);
        expect(all.exitCode, `${all.stderr}${all.stdout}`).toBe(0);
        expect(await fresh.snapshot()).toEqual(ref.before);
        for (const id of journalIds(dir)) {
          expect(journalProblem(dir, id)).toBeUndefined();
          expect(changesLeft(dir, id)).toEqual([]);
        }
      });
      covered += 1;
    });
  }
}
