import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inSandbox, journalIds, journalLines, runs } from '../helpers/cli-harness.js';
import { SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 28, item 8: a run ends by verifying again every step a later step could have undone.
 * test/fixtures/runbooks/port-flush.yaml adds a permanent neighbour entry on a bridge, then
 * plugs in a port whose MAC is lower than the bridge's: the bridge takes that MAC, and the
 * kernel flushes every neighbour entry on it, permanent ones too. Every step held when it
 * ended; `run` must not say "succeeded".
 */

const file = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'fixtures',
  'runbooks',
  'port-flush.yaml',
);

let host: SandboxHost;
let stateDir: string;
beforeAll(async () => {
  host = await SandboxHost.create();
  stateDir = tempDir();
});
afterAll(() => {
  host?.dispose();
  if (stateDir !== undefined) removeDir(stateDir);
});

const runbook = (args: string[], env: Record<string, string> = {}) =>
  host.runbook(['--state-dir', stateDir, ...args], { env });

function expectExit(result: ExecResult, code: number): void {
  expect(result.exitCode, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}

describe('the final pass (issue 28, item 8)', () => {
  it('a step a later step undid fails the run, with a diagnosis naming both steps; resume checks again; rollback undoes all', async () => {
    const before = await host.snapshot();
    const run = await runbook(['run', file]);
    expectExit(run, 1);
    // Every step ended ok or changed: the failure is the final pass's.
    expect(run.stdout).toMatch(/changed +neighbour /);
    expect(run.stdout).toMatch(/changed +second-port /);
    expect(run.stdout).not.toContain('succeeded');
    expect(run.stderr).toContain('step neighbour no longer holds at the end of the run');
    expect(run.stderr).toContain(
      'undone by: step second-port (Plug pa2 (MAC 02:00:00:00:00:10) into brx), the only step that changed the host after it',
    );
    // Its probe names the cause.
    expect(run.stderr).toContain('cause:    the permanent entry for 172.16.9.2 is gone');

    const runId = journalIds(stateDir).at(-1) as string;
    const lines = journalLines(stateDir, runId);
    expect(lines.find((l) => l.type === 'final-pass-start')).toMatchObject({ steps: ['bridge', 'neighbour'] });
    expect(lines.find((l) => l.type === 'final-pass-end')).toMatchObject({
      status: 'failed',
      step: 'neighbour',
      undoneBy: ['second-port'],
    });
    expect(lines.at(-1)).toMatchObject({ type: 'run-end', status: 'failed', failedStep: 'neighbour' });
    expect((lines.at(-1) as { message: string }).message).toContain('step second-port undid it');
    // Checks only: the pass ran no do or undo command.
    const pass = lines.slice(lines.findIndex((l) => l.type === 'final-pass-start'));
    expect(pass.filter((l) => l.type === 'command-start').map((l) => (l as { phase: string }).phase)).toEqual([
      'final-verify',
      'final-verify',
      'diagnose',
    ]);
    expect(runs(stateDir).find((r) => r.id === runId)?.status).toBe('failed');

    // Resume finds every step finished: it runs the final pass again, which fails the same way
    // while the host is as it is, and changes nothing.
    const again = await runbook(['resume', runId]);
    expectExit(again, 1);
    expect(again.stderr).toContain('step neighbour no longer holds at the end of the run');
    const resumed = journalLines(stateDir, runId).slice(lines.length);
    expect(resumed.some((l) => l.type === 'command-start' && l.phase === 'do')).toBe(false);

    // Put right by hand, resume succeeds.
    const repair = await host.exec([
      'ip',
      'neigh',
      'replace',
      '172.16.9.2',
      'lladdr',
      '02:00:00:00:00:99',
      'dev',
      'brx',
      'nud',
      'permanent',
    ]);
    expectExit(repair, 0);
    expectExit(await runbook(['resume', runId]), 0);
    expect(runs(stateDir).find((r) => r.id === runId)?.status).toBe('succeeded');

    // Rollback undoes what the run did, the final pass notwithstanding.
    expectExit(await runbook(['rollback', runId]), 0);
    expect(await host.snapshot()).toEqual(before);
  });

  it('with --json, the failure carries the steps that changed the host after the step', async () => {
    await inSandbox(async (sandbox, dir) => {
      const json = await sandbox.runbook(['--state-dir', dir, 'run', file, '--json']);
      expectExit(json, 1);
      const end = JSON.parse(json.stdout.trim().split('\n').at(-1) as string) as {
        status: string;
        failure: { stepId: string; undoneBy: Array<{ stepId: string }> };
      };
      expect(end.status).toBe('failed');
      expect(end.failure.stepId).toBe('neighbour');
      expect(end.failure.undoneBy.map((s) => s.stepId)).toEqual(['second-port']);
    });
  });

  it('a run re-run where every step holds has nothing to verify again: no final pass is journaled', async () => {
    await inSandbox(async (sandbox, dir) => {
      expectExit(await sandbox.runbook(['--state-dir', dir, 'run', 'single-container', '--set', 'ping_deadline=1']), 0);
      expectExit(await sandbox.runbook(['--state-dir', dir, 'run', 'single-container', '--set', 'ping_deadline=1']), 0);
      const [first, second] = journalIds(dir);
      expect(journalLines(dir, first as string).some((l) => l.type === 'final-pass-start')).toBe(true);
      expect(journalLines(dir, second as string).some((l) => l.type.startsWith('final-pass'))).toBe(false);
    });
  });

  it('a run killed during its final pass is interrupted; resume runs the final pass again and succeeds', async () => {
    await inSandbox(async (sandbox, dir) => {
      const killed = await sandbox.runbook(
        ['--state-dir', dir, 'run', 'single-container', '--set', 'ping_deadline=1'],
        {
          env: { RUNBOOK_FAULT_KILL: 'after:final-pass-start' },
        },
      );
      expect(killed.signal).toBe('SIGKILL');
      const [runId] = journalIds(dir);
      expect(journalLines(dir, runId as string).at(-1)?.type).toBe('final-pass-start');
      expect(runs(dir)[0]?.status).toBe('interrupted');

      const resume = await sandbox.runbook(['--state-dir', dir, 'resume']);
      expectExit(resume, 0);
      const lines = journalLines(dir, runId as string);
      const attempt = lines.findIndex((l) => l.type === 'attempt-start');
      // Every step was finished: the resume ran no step, only the final pass, in full.
      expect(lines.slice(attempt).some((l) => l.type === 'step-start')).toBe(false);
      expect(lines.slice(attempt).find((l) => l.type === 'final-pass-end')).toMatchObject({ status: 'held' });
      expect(runs(dir)[0]?.status).toBe('succeeded');
    });
  });
});
