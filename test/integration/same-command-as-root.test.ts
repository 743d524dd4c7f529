import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { tempDirsRemovedAfterAll } from '../helpers/temp-dir.js';

/**
 * Issue 26, item 6: a user who is not root, whatever they type that needs root, is told so
 * ("needs root (CAP_NET_ADMIN)") before anything else — not to chown a state dir root made —
 * and is shown the very command they typed, under sudo, ready to paste: not another command.
 * The state dir (given with --state-dir or by $RUNBOOK_STATE_DIR, which sudo would drop) is
 * named on it, and so is `npx` when they came through it.
 *
 * Run as uid 65534 with no capabilities (setpriv), inside a SandboxHost: every command is
 * refused before it does anything, and nothing here can touch this machine's network.
 */

const tempDir = tempDirsRemovedAfterAll('runbook-not-root-');
const nobody = [
  'setpriv',
  '--reuid=65534',
  '--regid=65534',
  '--clear-groups',
  '--inh-caps=-all',
  '--bounding-set=-all',
];

describe('a user who is not root is told "needs root" and shown the same command under sudo', () => {
  let host: SandboxHost;
  let before: Record<string, unknown>;
  let cli: string;
  beforeAll(async () => {
    host = await SandboxHost.create();
    before = await host.snapshot();
    cli = await host.cliForAnyone();
  });
  afterAll(async () => {
    if (host === undefined) return;
    expect(await host.snapshot()).toEqual(before);
    host.dispose();
  });

  /** The CLI as that user, with only PATH and `env` in its environment. */
  const asNobody = (args: readonly string[], env: Record<string, string> = {}): Promise<ExecResult> =>
    host.start([...nobody, '--', process.execPath, cli, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
    }).done;

  const expectNeedsRoot = (result: ExecResult, what: string, caps: string, sameCommand: string) => {
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.split('\n');
    expect(lines).toContain(`runbook: ${what} needs root (${caps}); nothing was changed`);
    expect(lines).toContain(`hint: try again as root: ${sameCommand}`);
    expect(result.stderr).not.toMatch(/chown|owned by/);
  };

  it('run, resume, rollback --all and check, with a state dir root made (mode 0700): needs root, the same command', async () => {
    const stateDir = tempDir(); // root's, 0700: the door would refuse nobody
    const sd = ['--state-dir', stateDir];
    const cases: Array<[string[], string]> = [
      [['run', 'single-container', '--until', 'namespace'], 'runbook run single-container'],
      [['resume'], 'runbook resume'],
      [['rollback', '--all'], 'runbook rollback'],
      [['check', 'single-container', '--set', 'host_ip=10.0.0.10'], 'runbook check single-container'],
    ];
    for (const [args, what] of cases) {
      expectNeedsRoot(
        await asNobody([...sd, ...args]),
        what,
        'CAP_NET_ADMIN',
        `sudo runbook --state-dir ${stateDir} ${args.join(' ')}`,
      );
    }
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('a state dir from $RUNBOOK_STATE_DIR is named on the line (sudo starts with a clean environment)', async () => {
    const stateDir = path.join(tempDir(), 'my state');
    const result = await asNobody(['rollback', 'abc123'], { RUNBOOK_STATE_DIR: stateDir });
    expectNeedsRoot(
      result,
      'runbook rollback abc123',
      'CAP_NET_ADMIN',
      `sudo runbook --state-dir '${stateDir}' rollback abc123`,
    );
    expect(existsSync(stateDir)).toBe(false);
  });

  it('through npx, the command shown is npx’s', async () => {
    const result = await asNobody(['resume'], {
      npm_command: 'exec',
      npm_lifecycle_script: "'runbook'",
      RUNBOOK_STATE_DIR: '/nonexistent-26',
    });
    expectNeedsRoot(result, 'runbook resume', 'CAP_NET_ADMIN', 'sudo npx runbook --state-dir /nonexistent-26 resume');
  });

  it('--sandbox and --in need CAP_SYS_ADMIN too, and say so with the same command', async () => {
    const stateDir = tempDir();
    expectNeedsRoot(
      await asNobody(['--state-dir', stateDir, 'run', 'single-container', '--sandbox']),
      'runbook run single-container',
      'CAP_SYS_ADMIN and CAP_NET_ADMIN',
      `sudo runbook --state-dir ${stateDir} run single-container --sandbox`,
    );
    expectNeedsRoot(
      await asNobody(['--state-dir', stateDir, '--in', 'lab', 'runs']),
      'runbook --in lab',
      'CAP_SYS_ADMIN and CAP_NET_ADMIN',
      `sudo runbook --state-dir ${stateDir} --in lab runs`,
    );
    expectNeedsRoot(
      await asNobody(['--state-dir', stateDir, 'sandbox', 'create', 'lab']),
      'runbook sandbox create lab',
      'CAP_SYS_ADMIN and CAP_NET_ADMIN',
      `sudo runbook --state-dir ${stateDir} sandbox create lab`,
    );
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('what needs no root still works for that user: runs in a state dir of their own', async () => {
    const result = await asNobody(['--state-dir', '/tmp/runbook-not-root-none-26', 'list']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('single-container');
  });
});
