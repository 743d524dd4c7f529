import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runbooksDir } from '../../src/runbook/load.js';
import { toShellLine } from '../../src/text/shell-words.js';
import { cliPath, SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { tempDir } from '../helpers/temp-dir.js';
import { expectExit, machineState, sandboxFiles } from './sandbox-nested.js';

/**
 * Issue 26, item 1: `runbook --in NAME …` runs in the sandbox *where the user stands*: with
 * their working directory, so that `./runbooks` and a relative path mean there what they mean
 * outside (write-your-own.md recommends exactly this). Typed inside sandbox NAME (its shell, or
 * pasted from a hint meant for outside), `--in NAME` just works; nothing ever makes a sandbox
 * inside a sandbox. A directory the sandbox does not have (mounted after it was made) is
 * refused, never silently swapped for `/` or for a same-named empty one.
 *
 * Everything runs inside a SandboxHost (its own network + mount namespaces), the sandbox `exp`
 * nested in it: nothing touches this machine.
 */

describe('--in exp, from a directory with runbooks of ones own', () => {
  let host: SandboxHost;
  let stateDir: string;
  let work: string;
  let machineBefore: Record<string, unknown>;
  const env = () => ({ RUNBOOK_STATE_DIR: stateDir, PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' });
  /** A bash line run in the SandboxHost from `cwd`, where `runbook` is this checkout's CLI. */
  const sh = (line: string, options: { cwd?: string; input?: string } = {}): Promise<ExecResult> =>
    host.exec(
      [
        'bash',
        '-c',
        `runbook() { ${toShellLine([process.execPath, cliPath])} "$@"; }; cd ${toShellLine([options.cwd ?? work])} && ${line}`,
      ],
      { env: env(), input: options.input },
    );

  beforeAll(async () => {
    stateDir = tempDir('runbook-in-cwd-');
    work = tempDir('runbook-in-cwd-work-');
    mkdirSync(path.join(work, 'runbooks'));
    const own = readFileSync(path.join(runbooksDir, 'single-container.yaml'), 'utf8').replace(
      /^name: single-container$/m,
      'name: my-own',
    );
    writeFileSync(path.join(work, 'runbooks', 'my-own.yaml'), own);
    copyFileSync(path.join(work, 'runbooks', 'my-own.yaml'), path.join(work, 'elsewhere.yaml'));
    machineBefore = await machineState(stateDir);
    host = await SandboxHost.create();
    expectExit(await host.runbook(['sandbox', 'create', 'exp'], { env: env() }), 0);
  });

  afterAll(async () => {
    await host?.runbook(['sandbox', 'destroy', 'exp'], { env: env() });
    host?.dispose();
    expect(await machineState(stateDir), "this machine's own links, routes, namespaces and mounts").toEqual(
      machineBefore,
    );
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('show finds ./runbooks/my-own.yaml by name, as it does outside', async () => {
    const outside = await sh('runbook show my-own');
    expectExit(outside, 0);
    const inside = await sh('runbook --in exp show my-own');
    expectExit(inside, 0);
    expect(inside.stdout).toBe(outside.stdout);
    expect(inside.stdout).toContain(`file: ${path.join(work, 'runbooks', 'my-own.yaml')}`);
  });

  it('run ./runbooks/my-own.yaml, a relative path, runs that file in the sandbox', async () => {
    const run = await sh('runbook --in exp run ./runbooks/my-own.yaml --until namespace');
    expectExit(run, 0);
    expect(run.stdout).toMatch(/^run my-own \(10 steps\)$/m);
    const runs = await sh('runbook --in exp runs --json');
    expect(JSON.parse(runs.stdout)).toMatchObject([{ runbook: 'my-own', status: 'stopped' }]);
    // From another directory, the same relative path is another file: not found, exit 2.
    const elsewhere = await sh('runbook --in exp show ./runbooks/my-own.yaml', { cwd: '/' });
    expectExit(elsewhere, 2);
  });

  it('typed inside sandbox exp (its shell), --in exp just works: runs, and a pasted resume', async () => {
    const stopped = JSON.parse((await sh('runbook --in exp runs --json')).stdout) as Array<{ id: string }>;
    const id = stopped[0]!.id;
    // A hint printed outside names the outer state dir and --in exp; pasted in the shell, it works.
    const pasted = `runbook --state-dir ${toShellLine([stateDir])} --in exp resume ${id} --until veth-pair`;
    const inShell = await sh(`runbook sandbox shell exp -c ${toShellLine([`runbook --in exp runs && ${pasted}`])}`);
    expectExit(inShell, 0);
    expect(inShell.stdout).toContain(`${id}  my-own`);
    expect(inShell.stdout).toContain(`run ${id} stopped after step veth-pair`);
    // An interactive shell, too; and it starts where the user stood.
    const typed = ['pwd', 'runbook --in exp runs | tail -1', 'exit'].join('\n');
    const interactive = await sh('runbook sandbox shell exp 2>&1', { input: `${typed}\n` });
    expectExit(interactive, 0);
    expect(interactive.stdout).toContain(`\n${work}\n`);
    expect(interactive.stdout).toMatch(new RegExp(`${id} +my-own +stopped`));
  });

  it('a shell starts where the user stands; a runbook in it then goes where the user cds', async () => {
    const typed = ['pwd', 'cd /', 'runbook show ./runbooks/my-own.yaml >/dev/null; echo "rc=$?"', 'exit'].join('\n');
    const shell = await sh('runbook sandbox shell exp 2>&1', { input: `${typed}\n` });
    expect(shell.stdout).toContain(`\n${work}\n`);
    // Not sent back to the directory the shell started in: ./runbooks is not under /.
    expect(shell.stdout).toContain('rc=2');
  });

  it('inside exp, --in another sandbox and the sandbox commands are refused, and no sandbox is made inside', async () => {
    const other = await sh(`runbook sandbox shell exp -c 'runbook --in other runs'`);
    expectExit(other, 2);
    expect(other.stderr).toContain('runs inside sandbox "exp": --in other reaches a sandbox from outside');
    expect(other.stderr).not.toContain('sandbox create');
    const create = await sh(`runbook sandbox shell exp -c 'runbook sandbox create nested'`);
    expectExit(create, 2);
    expect(create.stderr).toContain('the `runbook sandbox` commands manage sandboxes from outside');
    expect(existsSync(path.join(sandboxFiles(stateDir, 'exp').state, 'sandboxes'))).toBe(false);
  });

  it('a working directory the sandbox does not have (mounted after it was made) is refused: exit 2, nothing run', async () => {
    const later = path.join(work, 'later');
    mkdirSync(later, { recursive: true });
    // Mounted in the SandboxHost only (a throwaway mount namespace), after exp was created.
    const mountThen = (line: string) => sh(`mount -t tmpfs tmpfs ${toShellLine([later])} && cd later && ${line}`);
    const viaIn = await mountThen('runbook --in exp run ./x.yaml');
    expectExit(viaIn, 2);
    expect(viaIn.stderr).toContain(`your working directory ${later} is not in sandbox "exp" as you see it`);
    expect(viaIn.stderr).toContain('nothing was changed');
    const viaShell = await mountThen(`runbook sandbox shell exp -c 'echo ran'`);
    expectExit(viaShell, 2);
    expect(viaShell.stdout).not.toContain('ran');
    expect(viaShell.stderr).toContain('nothing was run');
  });

  it('a working directory deleted since the shell entered it is refused clearly: exit 2, nothing run', async () => {
    const gone = path.join(work, 'gone');
    const fromGone = (line: string) => sh(`mkdir gone && cd gone && rmdir ${toShellLine([gone])} && ${line}`);
    const viaIn = await fromGone('runbook --in exp run single-container');
    expectExit(viaIn, 2);
    expect(viaIn.stderr).toContain('your working directory no longer exists');
    expect(viaIn.stderr).not.toContain('internal error');
    expect(viaIn.stderr).toContain('nothing was changed');
    const viaShell = await fromGone(`runbook sandbox shell exp -c 'echo ran'`);
    expect(viaShell.exitCode).not.toBe(0);
    expect(viaShell.stdout).not.toContain('ran');
    expect(viaShell.stderr).not.toContain('internal error');
  });
});
