import { execa, type ResultPromise } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lockFile } from '../../src/journal/paths.js';
import { listRunIndexes } from '../../src/journal/run-index.js';
import { runbooksDir } from '../../src/runbook/load.js';
import { SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { tempDirsRemovedAfterAll } from '../helpers/temp-dir.js';

/**
 * Issue 26, item 4: everything that can be validated is validated before anything is created
 * or printed as started. A refused `run` (exit 2 or 3) prints nothing on stdout: no "sandbox
 * host ready", no `run NAME (N steps)` header; it records no run and changes nothing. Refused
 * for: an unknown --until step, a program not on PATH, a bad parameter, the state dir's lock
 * held by a live process; with and without --sandbox (whose host is then never made).
 *
 * Every CLI run happens inside a SandboxHost: nothing touches this machine's network.
 */

const tempDir = tempDirsRemovedAfterAll('runbook-validated-');

function expectRefused(result: ExecResult, code: number, stderr: string | RegExp): void {
  expect(result.exitCode, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(stderr);
}

describe('a run refused before it starts prints nothing as started, and records nothing', () => {
  let host: SandboxHost;
  let before: Record<string, unknown>;
  let sleeper: ResultPromise | undefined;
  beforeAll(async () => {
    host = await SandboxHost.create();
    before = await host.snapshot();
  });
  afterEach(async () => {
    sleeper?.kill('SIGKILL');
    sleeper = undefined;
    expect(await host.snapshot()).toEqual(before);
  });
  afterAll(() => host?.dispose());

  /** A runbook of one's own whose check runs a program no PATH has. */
  const missingProgram = () => {
    const file = path.join(tempDir(), 'missing-program.yaml');
    const text = readFileSync(path.join(runbooksDir, 'single-container.yaml'), 'utf8')
      .replace(/^name: single-container$/m, 'name: missing-program')
      .replace('- run: [ping, -c1,', '- run: [no-such-program-26, -c1,');
    writeFileSync(file, text);
    return file;
  };

  for (const sandbox of [[], ['--sandbox']]) {
    const how = sandbox.length === 0 ? 'on this host' : 'with --sandbox (no sandbox host is made)';

    it(`--until a step the runbook does not have, ${how}: exit 2`, async () => {
      const stateDir = tempDir();
      const result = await host.runbook([
        '--state-dir',
        stateDir,
        'run',
        'single-container',
        ...sandbox,
        '--until',
        'nope',
      ]);
      expectRefused(result, 2, /--until nope: runbook single-container has no such step; nothing was changed/);
      expect(result.stderr).toContain('its steps: namespace, veth-pair,');
      expect(listRunIndexes(stateDir)).toEqual([]);
    });

    it(`a program not on PATH, ${how}: exit 2`, async () => {
      const stateDir = tempDir();
      const result = await host.runbook(['--state-dir', stateDir, 'run', missingProgram(), ...sandbox]);
      expectRefused(result, 2, /needs a program not found on PATH: no-such-program-26; nothing was changed/);
      expect(listRunIndexes(stateDir)).toEqual([]);
    });

    it(`a bad parameter, ${how}: exit 2`, async () => {
      const stateDir = tempDir();
      const result = await host.runbook([
        '--state-dir',
        stateDir,
        'run',
        'single-container',
        ...sandbox,
        '--set',
        'container_cidr=172.16.0.300/24',
      ]);
      expectRefused(result, 2, /container_cidr/);
      expect(listRunIndexes(stateDir)).toEqual([]);
    });

    it(`the state dir's lock held by a live process, ${how}: exit 3`, async () => {
      const stateDir = tempDir();
      sleeper = execa('sleep', ['30'], { reject: false });
      const pid = sleeper.pid!;
      writeFileSync(lockFile(stateDir), JSON.stringify({ pid, command: 'run x', since: '2026-11-28T00:00:00.000Z' }));
      const result = await host.runbook(['--state-dir', stateDir, 'run', 'single-container', ...sandbox]);
      expectRefused(result, 3, new RegExp(`another runbook command holds .*: pid ${pid} \\(run x\\)`));
      expect(listRunIndexes(stateDir)).toEqual([]);
      expect(JSON.parse(readFileSync(lockFile(stateDir), 'utf8')).pid).toBe(pid);
    });
  }
});
