import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inSandbox, journalIds } from '../helpers/cli-harness.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 11, item 6, tried as a careless or hostile user would: impossible values are refused
 * with exit 2 before anything runs, the host unchanged and no journal written; the longest name
 * that is accepted really works. Every run happens inside a SandboxHost.
 */

const refused: Array<[string, string[], RegExp]> = [
  ['__proto__', ['--set', '__proto__=x'], /unknown parameter "__proto__"/],
  ['constructor', ['--set', 'constructor=x'], /unknown parameter "constructor"/],
  ['toString', ['--set', 'toString=x'], /unknown parameter "toString"/],
  ['hasOwnProperty', ['--set', 'hasOwnProperty=x'], /unknown parameter "hasOwnProperty"/],
  ['a 300-character name', ['--set', `container=${'c'.repeat(300)}`], /at most 255 characters/],
  ['an escape sequence', ['--set', 'container=a\u001b[2Jb'], /control or invisible character \(U\+001B/],
  ['a newline', ['--set', 'host_veth=v\nx'], /control or invisible character \(U\+000A/],
  ['a C1 control', ['--set', 'container=a\u009bb'], /control or invisible character \(U\+009B/],
  ['subnet=0.0.0.0/0', ['--set', 'subnet=0.0.0.0/0'], /a route to 0\.0\.0\.0\/0 is a default route/],
  // The kernel would pick the name (v0), which the run could not know, nor undo.
  ['host_veth=v%d', ['--set', 'host_veth=v%d'], /cannot contain "%"/],
  // A name that reads as veth1 on the screen but is not.
  ['a right-to-left override', ['--set', 'container=c\u202e1'], /control or invisible character \(U\+202E/],
  // The container's address and its gateway must lie in the subnet the host routes to it.
  [
    'subnet=0.0.0.0/1',
    ['--set', 'subnet=0.0.0.0/1'],
    /the container's address \(172\.16\.0\.2\) is outside 0\.0\.0\.0\/1/,
  ],
  [
    'gateway=10.0.0.1',
    ['--set', 'gateway=10.0.0.1'],
    /the container's gateway \(10\.0\.0\.1\) is outside 172\.16\.0\.0\/24/,
  ],
];

describe('impossible values: exit 2, nothing changed', () => {
  it.each(refused)('single-container with %s', async (_name, args, message) => {
    await inSandbox(async (host, stateDir) => {
      const before = await host.snapshot();
      const result = await host.runbook(['run', 'single-container', ...args, '--state-dir', stateDir]);
      expect(result.exitCode, result.stdout + result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
      // Control characters never reach the terminal raw.
      // eslint-disable-next-line no-control-regex
      expect(result.stdout + result.stderr).not.toMatch(/[\u001b\u009b]/);
      expect(await host.snapshot()).toEqual(before);
      expect(journalIds(stateDir)).toEqual([]);
    });
  });

  it('multi-container whose container addresses leave the bridge network (broadcast, then outside)', async () => {
    await inSandbox(async (host, stateDir) => {
      const before = await host.snapshot();
      const result = await host.runbook([
        'run',
        'multi-container',
        '--set',
        'bridge_cidr=172.16.0.253/24',
        '--set',
        'count=3',
        '--state-dir',
        stateDir,
      ]);
      expect(result.exitCode, result.stdout + result.stderr).toBe(2);
      expect(result.stderr).toContain(
        'the address of container2 (172.16.0.255) is the broadcast address of 172.16.0.0/24',
      );
      expect(result.stderr).toContain('the address of container3 (172.16.1.0) is outside 172.16.0.0/24');
      expect(await host.snapshot()).toEqual(before);
      expect(journalIds(stateDir)).toEqual([]);
    });
  });

  it('a runbook file with an unquoted true in an argv: line, column and "quote it"', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'unquoted.yaml');
      writeFileSync(
        file,
        'name: unquoted\ndescription: d\nsteps:\n  - id: a\n    title: t\n    why: w\n    verify:\n      - run: [true]\n',
      );
      await inSandbox(async (host, stateDir) => {
        const result = await host.runbook(['run', file, '--state-dir', stateDir]);
        expect(result.exitCode).toBe(2);
        expect(result.stderr).toContain(
          'steps[0].verify[0].run[0]: YAML read this as the boolean true, not as text: quote it as written ("1", "true", "0644") (line 8, column 15)',
        );
      });
    } finally {
      removeDir(dir);
    }
  });
});

describe('the limits are the kernel’s', () => {
  it('a 255-character container name is accepted and the whole run works, then rolls back', async () => {
    await inSandbox(async (host, stateDir) => {
      const before = await host.snapshot();
      const name = 'n'.repeat(255);
      const run = await host.runbook([
        'run',
        'single-container',
        '--set',
        `container=${name}`,
        '--state-dir',
        stateDir,
      ]);
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(((await host.ipJson(['netns', 'list'])) as Array<{ name: string }>).map((n) => n.name)).toContain(name);
      const rollback = await host.runbook(['rollback', '--state-dir', stateDir]);
      expect(rollback.exitCode, rollback.stdout + rollback.stderr).toBe(0);
      expect(await host.snapshot()).toEqual(before);
    });
  });
});
