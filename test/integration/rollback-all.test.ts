import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runbooksDir } from '../../src/runbook/load.js';
import { inSandbox, journalLines, parseNdjson, runs } from '../helpers/cli-harness.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import type { SandboxHost } from '../helpers/sandbox-host.js';

/**
 * `runbook rollback --all [--runbook NAME]` (issues 12 and 14) against the real kernel, in
 * throwaway sandbox hosts: a run, a repair run after a breakage, and a run of another runbook;
 * --all undoes the runs of the one asked for, newest first, as one operation that a second
 * call finds done, and that a kill in the middle leaves for the next call to finish.
 */

const sd = (stateDir: string) => ['--state-dir', stateDir];

/** A copy of single-container under another name, acting on its own container and subnet. */
function otherRunbook(dir: string): string {
  const file = path.join(dir, 'other-container.yaml');
  const text = readFileSync(path.join(runbooksDir, 'single-container.yaml'), 'utf8').replace(
    /^name: single-container$/m,
    'name: other-container',
  );
  if (!text.includes('name: other-container')) throw new Error('could not rename the copied runbook');
  writeFileSync(file, text);
  return file;
}
const otherParams = [
  ['container', 'web9'],
  ['host_veth', 'veth9'],
  ['container_veth', 'ceth9'],
  ['container_cidr', '172.16.9.2/24'],
  ['subnet', '172.16.9.0/24'],
  ['gateway', '172.16.9.2'],
].flatMap(([k, v]) => ['--set', `${k}=${v}`]);

/**
 * single-container, then the host route deleted by hand and a second run that repairs it (so
 * two runs with changes), then other-container. Returns the snapshot after other-container.
 */
async function twoRunsAndAnOther(host: SandboxHost, stateDir: string, other: string) {
  expect((await host.runbook([...sd(stateDir), 'run', 'single-container'])).exitCode).toBe(0);
  expect((await host.exec(['ip', 'route', 'del', '172.16.0.0/24'])).exitCode).toBe(0);
  const repair = await host.runbook([...sd(stateDir), 'run', 'single-container', '--json']);
  expect(repair.exitCode, repair.stderr).toBe(0);
  expect(parseNdjson(repair.stdout).at(-1)).toMatchObject({ event: 'run-end', changed: 1 });
  const onlyOther = await host.snapshot();
  expect((await host.runbook([...sd(stateDir), 'run', other, ...otherParams])).exitCode).toBe(0);
  return onlyOther;
}

describe('rollback --all', () => {
  it('undoes every run of the runbook asked for, newest first, leaves the other runbook alone, and a second call does nothing', async () => {
    const dir = tempDir();
    try {
      const other = otherRunbook(dir);
      await inSandbox(async (host, stateDir) => {
        const before = await host.snapshot();
        await twoRunsAndAnOther(host, stateDir, other);
        const [first, repair, otherRun] = runs(stateDir);

        const result = await host.runbook([
          ...sd(stateDir),
          'rollback',
          '--all',
          '--runbook',
          'single-container',
          '--json',
        ]);
        expect(result.exitCode, result.stderr).toBe(0);
        const events = parseNdjson(result.stdout) as unknown as Array<Record<string, unknown>>;
        const end = events.at(-1);
        // Newest first: the repair (its route), then the first run (all 8 steps it changed).
        expect(end).toMatchObject({
          event: 'rollback-all-end',
          status: 'rolled-back',
          runbook: 'single-container',
          undone: 9,
          runs: [
            { runId: repair?.id, status: 'rolled-back', undone: ['host-route'] },
            { runId: first?.id, status: 'rolled-back' },
          ],
        });
        expect(events.filter((e) => e.event === 'undo').map((e) => e.runId)[0]).toBe(repair?.id);
        expect(runs(stateDir).map((r) => r.status)).toEqual(['rolled-back', 'rolled-back', 'succeeded']);

        // The sandbox is as before the first run, except for what other-container made.
        // The other runbook, named by the path of its file (as the Ansible module may name it).
        const byPath = await host.runbook([...sd(stateDir), 'rollback', '--all', '--runbook', other, '--json']);
        expect(byPath.exitCode, byPath.stderr).toBe(0);
        expect(parseNdjson(byPath.stdout).at(-1)).toMatchObject({
          runs: [{ runId: otherRun?.id, status: 'rolled-back' }],
        });
        expect(await host.snapshot()).toEqual(before);

        const journalLength = journalLines(stateDir, first?.id ?? '?').length;
        const again = await host.runbook([...sd(stateDir), 'rollback', '--all', '--runbook', 'single-container']);
        expect(again.exitCode, again.stderr).toBe(0);
        expect(again.stdout).toContain(
          'nothing to roll back: no run of single-container on this host has changes left',
        );
        expect(journalLines(stateDir, first?.id ?? '?')).toHaveLength(journalLength);
      });
    } finally {
      removeDir(dir);
    }
  });

  it('killed in the middle (SIGKILL during the older run’s undo): the next call finishes it and the host is as before', async () => {
    await inSandbox(async (host, stateDir) => {
      const before = await host.snapshot();
      expect((await host.runbook([...sd(stateDir), 'run', 'single-container'])).exitCode).toBe(0);
      expect((await host.exec(['ip', 'route', 'del', '172.16.0.0/24'])).exitCode).toBe(0);
      expect((await host.runbook([...sd(stateDir), 'run', 'single-container'])).exitCode).toBe(0);

      // The repair's undo is a couple of commands; the 6th command is inside the first run's.
      const killed = await host.runbook([...sd(stateDir), 'rollback', '--all'], {
        env: { RUNBOOK_FAULT_KILL: 'command:6' },
      });
      expect(killed.signal).toBe('SIGKILL');
      expect(runs(stateDir).map((r) => r.status)).toEqual(['interrupted', 'rolled-back']);
      expect(await host.snapshot()).not.toEqual(before);

      const finish = await host.runbook([...sd(stateDir), 'rollback', '--all']);
      expect(finish.exitCode, finish.stderr).toBe(0);
      expect(finish.stdout).toMatch(/rolled back 1 run\(s\), newest first/);
      expect(runs(stateDir).map((r) => r.status)).toEqual(['rolled-back', 'rolled-back']);
      expect(await host.snapshot()).toEqual(before);
      expect((await host.runbook([...sd(stateDir), 'rollback', '--all'])).stdout).toContain('nothing to roll back');
    });
  });

  it('a damaged run is named and left alone; the runs that can be read are undone', async () => {
    await inSandbox(async (host, stateDir) => {
      const before = await host.snapshot();
      expect((await host.runbook([...sd(stateDir), 'run', 'single-container'])).exitCode).toBe(0);
      writeFileSync(path.join(stateDir, 'runs', '20200101T000000.000Z-dead.json'), 'not json');
      const result = await host.runbook([...sd(stateDir), 'rollback', '--all']);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/note: run 20200101T000000\.000Z-dead is damaged \(.*\) and is left alone/);
      expect(result.stdout).toMatch(/rolled back 1 run\(s\), newest first: 8 step\(s\) undone/);
      expect(await host.snapshot()).toEqual(before);
    });
  });

  it('refuses a run id with --all, and --runbook without --all: exit 2, as JSON too with --json, nothing undone', async () => {
    await inSandbox(async (host, stateDir) => {
      expect((await host.runbook([...sd(stateDir), 'run', 'single-container'])).exitCode).toBe(0);
      const both = await host.runbook([...sd(stateDir), 'rollback', 'latest', '--all', '--json']);
      expect(both.exitCode).toBe(2);
      expect(JSON.parse(both.stdout)).toMatchObject({
        event: 'error',
        code: 'invalid-input',
        exitCode: 2,
        message: expect.stringContaining('give a run id or --all, not both') as unknown,
      });
      expect(both.stderr).toContain('runbook: rollback: give a run id or --all, not both');
      const alone = await host.runbook([...sd(stateDir), 'rollback', '--runbook', 'single-container']);
      expect(alone.exitCode).toBe(2);
      expect(alone.stderr).toContain('--runbook single-container selects runs for --all');
      expect(runs(stateDir).map((r) => r.status)).toEqual(['succeeded']);
    });
  });
});
