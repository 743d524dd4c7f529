import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lchownSync,
  mkdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runbooksDir } from '../../src/runbook/load.js';
import { cliPath, SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { learner, thirdUser, userClone } from '../helpers/user-clone.js';

/**
 * Issue 22, items 2 and 3, as an attacker would try them, each in a throwaway sandbox host:
 * whatever root executes comes from a file no other user could write (an include beside the
 * runbook, ./runbooks and the links to it, $RUNBOOK_PATH), and the owner of the code is trusted
 * only when it is the user who runs it with sudo; a third user's checkout is refused with a hint
 * that works when followed. The learner's own clone is docs/learn-by-doing.md, run whole by
 * test/integration/learn-by-doing.test.ts.
 */

const nobody = 65534;

/** A runbook named `name` whose one step leaves `marker` behind: the plant. */
function plantedRunbook(name: string, marker: string): string {
  return [
    `name: ${name}`,
    'description: planted by another user',
    'steps:',
    '  - id: planted',
    '    title: planted',
    '    why: planted',
    '    do:',
    `      - [touch, ${marker}]`,
    '    verify:',
    `      - run: [test, -e, ${marker}]`,
    '    undo:',
    `      - [rm, -f, ${marker}]`,
    '',
  ].join('\n');
}

describe('everything root runs comes from a file no other user could write', () => {
  let host: SandboxHost;
  let dir: string;
  let marker: string;
  const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };

  beforeAll(async () => {
    host = await SandboxHost.create();
    dir = tempDir('runbook-files-');
    chmodSync(dir, 0o755);
    marker = path.join(dir, 'PLANTED-COMMAND-RAN');
  });
  afterAll(() => {
    host?.dispose();
    removeDir(dir);
  });

  /** The CLI run from `cwd`, with only PATH and `extra` in its environment. */
  function runbookIn(cwd: string, args: readonly string[], extra: Record<string, string> = {}): Promise<ExecResult> {
    const script = 'cd "$1" && shift && exec "$@"';
    return host.start(['bash', '-c', script, 'bash', cwd, process.execPath, cliPath, ...args], {
      env: { ...env, ...extra },
    }).done;
  }

  function expectRefused(result: ExecResult, reason: string): void {
    expect(result.exitCode, `${result.stderr}${result.stdout}`).toBe(2);
    expect(result.stderr).toContain(reason);
    expect(result.stderr).toContain('nothing was changed');
  }

  it("an include planted beside root's runbook in a sticky 1777 dir: run, check and show refuse it (exit 2), nothing runs", async () => {
    const shared = path.join(dir, 'sticky');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const mine = path.join(shared, 'mine.yaml');
    writeFileSync(mine, "name: mine\ndescription: root's\nsteps:\n  - include: single-container\n", { mode: 0o644 });
    const planted = path.join(shared, 'single-container.yaml');
    writeFileSync(planted, plantedRunbook('single-container', marker), { mode: 0o644 });
    chownSync(planted, nobody, nobody);
    const stateDir = path.join(dir, 'state-include');
    const before = await host.snapshot();
    for (const args of [
      ['run', mine],
      ['check', mine],
      ['show', mine],
      ['run', planted],
    ]) {
      const result = await runbookIn(dir, ['--state-dir', stateDir, ...args]);
      expectRefused(result, `${planted} is owned by nobody (uid 65534)`);
    }
    expect(existsSync(marker)).toBe(false);
    expect(await host.snapshot()).toEqual(before);
  });

  it('./runbooks a link owned by another user (its target fine): refused by name, naming the link; mended, the name works and says what it shadows', async () => {
    const project = path.join(dir, 'project');
    const real = path.join(dir, 'real-runbooks');
    mkdirSync(project, { mode: 0o755 });
    mkdirSync(real, { mode: 0o755 });
    copyFileSync(path.join(runbooksDir, 'single-container.yaml'), path.join(real, 'single-container.yaml'));
    symlinkSync(real, path.join(project, 'runbooks'));
    lchownSync(path.join(project, 'runbooks'), nobody, nobody);
    const stateDir = path.join(dir, 'state-link');
    const before = await host.snapshot();
    const refused = await runbookIn(project, ['--state-dir', stateDir, 'run', 'single-container']);
    expectRefused(
      refused,
      `${path.join(project, 'runbooks')} is a symbolic link owned by nobody (uid 65534), who could point it anywhere`,
    );
    expect(await host.snapshot()).toEqual(before);

    lchownSync(path.join(project, 'runbooks'), 0, 0);
    const note = `note: runbook "single-container" is ${path.join(project, 'runbooks', 'single-container.yaml')} (./runbooks), which shadows the shipped one (${path.join(runbooksDir, 'single-container.yaml')})`;
    const show = await runbookIn(project, ['show', 'single-container']);
    expect(show.exitCode, show.stderr).toBe(0);
    expect(show.stderr.trim()).toBe(note);
    const run = await runbookIn(project, ['--state-dir', stateDir, 'run', 'single-container', '--until', 'namespace']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr.trim()).toBe(note);
    const check = await runbookIn(project, [
      '--state-dir',
      stateDir,
      'check',
      'single-container',
      '--set',
      'ping_deadline=1',
    ]);
    expect(check.stderr).toContain(note);
    expect((await runbookIn(project, ['--state-dir', stateDir, 'rollback'])).exitCode).toBe(0);
    expect(await host.snapshot()).toEqual(before);
  });

  it('$RUNBOOK_PATH: a relative entry is refused, and so is a dir another user owns', async () => {
    const relative = await runbookIn(dir, ['show', 'single-container'], { RUNBOOK_PATH: 'runbooks' });
    expectRefused(relative, '$RUNBOOK_PATH holds a relative dir, "runbooks"');
    expect(relative.stderr).toContain(`hint: name it from the root: RUNBOOK_PATH=${path.join(dir, 'runbooks')}`);

    const theirs = path.join(dir, 'theirs');
    mkdirSync(theirs, { mode: 0o755 });
    writeFileSync(path.join(theirs, 'planted.yaml'), plantedRunbook('planted', marker), { mode: 0o644 });
    chownSync(theirs, nobody, nobody);
    const result = await runbookIn(dir, ['--state-dir', path.join(dir, 'state-path'), 'run', 'planted'], {
      RUNBOOK_PATH: theirs,
    });
    expectRefused(result, `${theirs} is owned by nobody (uid 65534)`);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('the owner of the code is trusted as much as the code, when it is the one who runs it', () => {
  let host: SandboxHost;
  let clone: ReturnType<typeof userClone> | undefined;

  beforeAll(async () => {
    host = await SandboxHost.create();
  });
  afterAll(() => {
    host?.dispose();
    removeDir(clone?.dir);
  });

  it("a third user's clone run through sudo: refused (exit 2) saying whose code it is; the hint, followed, works", async () => {
    clone = userClone(thirdUser);
    // `sudo` by the learner, of a clone the third user owns: its state/ is the third user's.
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', SUDO_UID: String(learner) };
    const sudoRunbook = (args: readonly string[]) =>
      host.start([process.execPath, clone!.cliPath, ...args], { env }).done;
    const before = await host.snapshot();
    const refused = await sudoRunbook(['run', 'single-container', '--sandbox']);
    expect(refused.exitCode, refused.stderr).toBe(2);
    expect(refused.stderr).toContain(
      `the runbook you run (${clone.dir}) belongs to uid ${thirdUser}, and you ran it as sudo by uid ${learner}`,
    );
    const hint = /^hint: use a state dir of your own: (--state-dir \S+)/m.exec(refused.stderr);
    expect(hint?.[1]).toBe('--state-dir /var/lib/runbook');
    expect(await host.snapshot()).toEqual(before);

    // Followed as printed, in the sandbox host's own /var/lib (a tmpfs of its mount namespace).
    expect((await host.exec(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', '/var/lib'])).exitCode).toBe(0);
    const followed = await sudoRunbook([...hint![1]!.split(' '), 'run', 'single-container', '--sandbox']);
    expect(followed.exitCode, followed.stderr).toBe(0);
    expect(followed.stdout).toMatch(/run \S+ succeeded/);
    expect(await host.snapshot()).toEqual(before);
  });
});
