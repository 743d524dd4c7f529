import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { journalFormat } from '../../src/journal/entries.js';
import { readJournal } from '../../src/journal/reader.js';
import { SandboxHost } from '../helpers/sandbox-host.js';
import { removeDir } from '../helpers/temp-dir.js';
import {
  copyGolden,
  goldenDir,
  goldenRunId,
  goldenStateDirs,
  identityOf,
  rawLines,
  rebind,
  replayChanges,
  type GoldenName,
} from './golden.js';

/**
 * Golden journals (issue 27, item 6): the state dirs runbook 0.1.0 wrote
 * (test/fixtures/golden-0.1.0, README.md there) read and acted on by this version, as Temporal
 * replays recorded histories in CI. An upgrade must never misread a run someone still has to
 * roll back: `runs`, `journal --verify`, `resume` and `rollback` work on each, and a state dir
 * 0.1.0 made still opens under today's trust rules (copied with 0.1.0's modes, owned by the one
 * who runs the test, as `sudo runbook` leaves it).
 *
 * Acting on a run happens in a fresh sandbox host, brought to the state the run left its host
 * in by replaying the journal's own `do` commands, the run rebound to it (golden.ts). The CLI
 * runs inside sandbox hosts only: nothing touches this machine's network.
 */

const copies: string[] = [];
afterAll(() => copies.forEach((dir) => removeDir(path.dirname(dir))));
function golden(name: GoldenName): { stateDir: string; runId: string } {
  const stateDir = copyGolden(name);
  copies.push(stateDir);
  return { stateDir, runId: goldenRunId(stateDir) };
}

const made = JSON.parse(readFileSync(path.join(goldenDir, 'made.json'), 'utf8')) as { version: string };
const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };

/** The status `runs` shows for each golden run (what 0.1.0 left). */
const statusOf: Record<GoldenName, string> = {
  'single-container': 'succeeded',
  'multi-container': 'succeeded',
  failed: 'failed',
  until: 'stopped',
  interrupted: 'interrupted',
  'rolled-back': 'rolled-back',
  'confirm-within': 'awaiting-confirmation',
};

describe('the golden state dirs', () => {
  it('were written by runbook 0.1.0, in journal format 1', () => {
    expect(made.version).toBe('0.1.0');
    expect(journalFormat).toBe(2);
    for (const name of goldenStateDirs) {
      const { stateDir, runId } = golden(name);
      const [start] = rawLines(stateDir, runId);
      expect(start).toMatchObject({ type: 'run-start', engineVersion: '0.1.0', journalFormat: 1 });
    }
  });
});

describe.each(goldenStateDirs)('%s, as 0.1.0 left it', (name) => {
  it('every entry reads as a valid entry of its kind', () => {
    const { stateDir, runId } = golden(name);
    const journal = readJournal(path.join(stateDir, 'runs', `${runId}.ndjson`));
    expect(journal.lines.length).toBe(rawLines(stateDir, runId).length);
    expect(journal.tornTail).toBeUndefined();
  });

  it('runs lists it with the status 0.1.0 left, not damaged; journal --verify finds it intact', async () => {
    const { stateDir, runId } = golden(name);
    // Read-only (nothing is reverted or changed), in a sandbox host all the same.
    const host = await SandboxHost.create();
    try {
      const runs = await host.runbook(['--state-dir', stateDir, 'runs', '--json'], { env });
      expect(runs.exitCode, runs.stderr).toBe(0);
      const [run] = JSON.parse(runs.stdout) as Array<{ id: string; status: string; damage?: string }>;
      expect(run).toMatchObject({ id: runId, status: statusOf[name] });
      expect(run?.damage).toBeUndefined();
      const verify = await host.runbook(['--state-dir', stateDir, 'journal', runId, '--verify'], { env });
      expect(verify.exitCode, verify.stderr).toBe(0);
      expect(verify.stdout).toContain(`journal of run ${runId} is intact`);
    } finally {
      host.dispose();
    }
  });
});

/**
 * A golden run acted on in a sandbox host: the host brought to the state the run left, the run
 * rebound to it. Returns what the test needs; the host is disposed of afterwards.
 */
async function onItsHost<T>(
  name: GoldenName,
  act: (ctx: {
    host: SandboxHost;
    stateDir: string;
    runId: string;
    before: Record<string, unknown>;
    runbook: (args: string[]) => ReturnType<SandboxHost['runbook']>;
  }) => Promise<T>,
): Promise<T> {
  const { stateDir, runId } = golden(name);
  const host = await SandboxHost.create();
  try {
    const before = await host.snapshot();
    if (name !== 'rolled-back') await replayChanges(host, rawLines(stateDir, runId));
    rebind(stateDir, runId, await identityOf(host));
    const runbook = (args: string[]) => host.runbook(['--state-dir', stateDir, ...args], { env });
    return await act({ host, stateDir, runId, before, runbook });
  } finally {
    host.dispose();
  }
}

const statusIn = async (runbook: (args: string[]) => ReturnType<SandboxHost['runbook']>, runId: string) => {
  const runs = await runbook(['runs', '--json']);
  return (JSON.parse(runs.stdout) as Array<{ id: string; status: string }>).find((r) => r.id === runId)?.status;
};

describe('rollback of a run 0.1.0 recorded', () => {
  for (const name of ['single-container', 'multi-container', 'failed'] as const) {
    it(`${name}: undoes exactly what the journal says the run changed; the host is as before the run`, async () => {
      await onItsHost(name, async ({ host, runId, before, runbook }) => {
        expect(await host.snapshot()).not.toEqual(before);
        const rollback = await runbook(['rollback', runId]);
        expect(rollback.exitCode, rollback.stderr).toBe(0);
        expect(rollback.stdout).toContain(`run ${runId} rolled back`);
        expect(await host.snapshot()).toEqual(before);
        expect(await statusIn(runbook, runId)).toBe('rolled-back');
        const verify = await runbook(['journal', runId, '--verify']);
        expect(verify.exitCode, verify.stderr).toBe(0);
      });
    });
  }

  it('rolled-back: a second rollback has nothing to do, and says so (exit 0, nothing run)', async () => {
    await onItsHost('rolled-back', async ({ runbook }) => {
      const rollback = await runbook(['rollback']);
      expect(rollback.exitCode, rollback.stderr).toBe(0);
      expect(rollback.stdout).toContain('nothing to roll back');
    });
  });
});

describe('resume of a run 0.1.0 recorded', () => {
  it('refuses without --force: the runbook file it recorded is not there any more (exit 2, nothing changed)', async () => {
    await onItsHost('until', async ({ host, stateDir, runId, runbook }) => {
      const state = await host.snapshot();
      const resume = await runbook(['resume', runId]);
      expect(resume.exitCode).toBe(2);
      expect(resume.stderr).toContain('nothing was changed');
      // The hint names the state dir given, as the user must type it again.
      expect(resume.stderr).toContain(`runbook --state-dir ${stateDir} resume ${runId} --force`);
      expect(await host.snapshot()).toEqual(state);
    });
  });

  for (const name of ['until', 'failed', 'interrupted'] as const) {
    it(`${name}: --force finishes it with the recorded runbook; check holds; rollback then restores the host`, async () => {
      await onItsHost(name, async ({ host, stateDir, runId, before, runbook }) => {
        const resume = await runbook(['resume', runId, '--force']);
        expect(resume.exitCode, `${resume.stdout}\n${resume.stderr}`).toBe(0);
        expect(await statusIn(runbook, runId)).toBe('succeeded');
        const check = await runbook(['check', 'single-container']);
        expect(check.exitCode, check.stdout).toBe(0);
        const rollback = await runbook(['rollback', runId]);
        expect(rollback.exitCode, rollback.stderr).toBe(0);
        expect(await host.snapshot()).toEqual(before);
        if (name === 'interrupted') expect(resume.stderr + resume.stdout).toContain('took over the lock');
        // Begun in format 1 by 0.1.0, continued in this version's format from its attempt-start.
        const lines = rawLines(stateDir, runId);
        expect(lines[0]).toMatchObject({ type: 'run-start', journalFormat: 1 });
        expect(lines.filter((l) => l.type === 'attempt-start').map((l) => l.journalFormat)).toEqual([2, 2]);
        const verify = await runbook(['journal', runId, '--verify']);
        expect(verify.exitCode, verify.stderr).toBe(0);
      });
    });
  }
});

describe('a confirm-within run 0.1.0 left awaiting confirmation, its watchdog gone, its deadline long past', () => {
  it('runs reports it awaits its revert and changes nothing', async () => {
    await onItsHost('confirm-within', async ({ host, runId, runbook }) => {
      const state = await host.snapshot();
      const runs = await runbook(['runs']);
      expect(runs.exitCode, runs.stderr).toBe(0);
      expect(runs.stderr).toContain(`warning: run ${runId} was not confirmed by`);
      expect(runs.stderr).toContain('awaits its automatic revert');
      expect(await host.snapshot()).toEqual(state);
    });
  });

  it('the next command that changes the host reverts it first: the host is as before the run, the run reverted', async () => {
    await onItsHost('confirm-within', async ({ host, runId, before, runbook }) => {
      const rollback = await runbook(['rollback']);
      expect(rollback.exitCode, `${rollback.stdout}\n${rollback.stderr}`).toBe(0);
      expect(rollback.stderr).toContain(`run ${runId} was not confirmed by`);
      expect(rollback.stderr).toContain(`run ${runId} reverted: 8 step(s) undone`);
      expect(await host.snapshot()).toEqual(before);
      expect(await statusIn(runbook, runId)).toBe('reverted');
    });
  });
});
