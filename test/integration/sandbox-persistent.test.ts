import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractInOption } from '../../src/sandbox/enter.js';
import { cliPath, SandboxHost } from '../helpers/sandbox-host.js';
import {
  expectExit,
  insideSandbox,
  machineState,
  mountsUnder,
  netnsNames,
  pinnedRunbook,
  sandboxFiles,
} from './sandbox-nested.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Persistent sandboxes on a real kernel: `runbook sandbox create`, `runbook --in lab …` from
 * separate CLI invocations, a killed run resumed, rolled back, then `sandbox destroy`.
 *
 * All of it runs inside a SandboxHost: even the bind mounts and namespaces `sandbox create`
 * makes are nested in that throwaway mount + network namespace. The SandboxHost's own network
 * must not change at all (the lab is a host of its own), and this machine's never does.
 */

describe('--in argument handling (no kernel)', () => {
  it('takes --in and the outer --state-dir out of the command line, wherever they are', () => {
    expect(extractInOption(['runs'])).toBeUndefined();
    expect(extractInOption(['--in', 'lab', 'run', 'single-container', '--until', 'host-route'])).toEqual({
      name: 'lab',
      stateDirOption: undefined,
      args: ['run', 'single-container', '--until', 'host-route'],
    });
    expect(extractInOption(['--state-dir=/s', 'rollback', '--in=lab', 'abc'])).toEqual({
      name: 'lab',
      stateDirOption: '/s',
      args: ['rollback', 'abc'],
    });
    expect(extractInOption(['--state-dir', '/s', '--in', 'lab', 'runs', '--', '--in', 'x'])).toEqual({
      name: 'lab',
      stateDirOption: '/s',
      args: ['runs', '--', '--in', 'x'],
    });
    // Not --in: options that merely start with it.
    expect(extractInOption(['run', 'x', '--interactive'])).toBeUndefined();
  });

  it('refuses --in without a name, or with two', () => {
    expect(() => extractInOption(['--in'])).toThrow(/--in needs a value/);
    expect(() => extractInOption(['--in', '--verbose', 'runs'])).toThrow(/--in needs a value/);
    expect(() => extractInOption(['--in', 'a', '--in', 'b', 'runs'])).toThrow(/--in given twice/);
  });
});

describe('runbook sandbox: create, --in run/resume/check/rollback, shell, list, destroy', () => {
  let host: SandboxHost;
  let stateDir: string;
  let machineBefore: Record<string, unknown>;
  let hostBefore: Record<string, unknown>;
  let labAfterCreate: Record<string, unknown>;
  let runId: string;
  let singleContainer: string;
  const lab = () => insideSandbox(host, stateDir, 'lab');
  const files = () => sandboxFiles(stateDir, 'lab');
  const runbook = (args: readonly string[], env: Record<string, string> = {}) =>
    host.runbook(['--state-dir', stateDir, ...args], { env });

  beforeAll(async () => {
    stateDir = tempDir('runbook-sandbox-');
    singleContainer = pinnedRunbook(stateDir, 'single-container');
    machineBefore = await machineState(stateDir);
    host = await SandboxHost.create();
    hostBefore = await host.snapshot();
  });

  afterAll(async () => {
    host?.dispose();
    expect(await machineState(stateDir), "this machine's own links, routes, namespaces and mounts").toEqual(
      machineBefore,
    );
    removeDir(stateDir);
  });

  it('creates a sandbox "lab" set up like the tutorial VM, kept alive by bind mounts', async () => {
    const created = await runbook(['sandbox', 'create']);
    expectExit(created, 0);
    expect(created.stdout).toContain('sandbox lab ready: uplink enp0s8 10.0.0.10/24, gateway 10.0.0.1');

    const mounts = await mountsUnder(host, files().dir);
    expect(mounts.sort()).toEqual([files().dir, files().mnt, files().net].sort());
    expect(await netnsNames(lab())).toEqual(['lan']);
    const addrs = await lab().exec(['ip', '-br', 'addr', 'show', 'enp0s8']);
    expect(addrs.stdout).toContain('10.0.0.10/24');
    const ping = await lab().exec(['ping', '-c1', '-W1', '198.51.100.1']);
    expectExit(ping, 0);
    // Another network namespace than the SandboxHost's.
    const inner = await lab().exec(['readlink', '/proc/self/ns/net']);
    const outer = await host.exec(['readlink', '/proc/self/ns/net']);
    expect(inner.stdout.trim()).not.toBe(outer.stdout.trim());

    labAfterCreate = await lab().snapshot();
    expect(await host.snapshot()).toEqual(hostBefore);
  });

  it('refuses an existing name, a bad name and a missing sandbox with exit 2, changing nothing', async () => {
    const again = await runbook(['sandbox', 'create', 'lab']);
    expectExit(again, 2);
    expect(again.stderr).toContain('a sandbox named "lab" already exists');
    for (const bad of ['a/b', '..', 'one-shot-1']) {
      const result = await runbook(['sandbox', 'create', bad]);
      expectExit(result, 2);
      expect(result.stderr).toContain(`bad sandbox name "${bad}"`);
    }
    const missing = await runbook(['--in', 'nope', 'runs']);
    expectExit(missing, 2);
    expect(missing.stderr).toContain('no sandbox named "nope"');
    expectExit(await runbook(['sandbox', 'destroy', 'nope']), 2);
    expectExit(await runbook(['sandbox', 'shell', 'nope', '-c', 'true']), 2);
    const nested = await runbook(['--in', 'lab', 'sandbox', 'list']);
    expectExit(nested, 2);
    expect(await lab().snapshot()).toEqual(labAfterCreate);
  });

  it('--in lab run, killed after its 20th journal entry: RUNBOOK_FAULT_KILL reaches the process inside', async () => {
    const killed = await runbook(['--in', 'lab', 'run', singleContainer], { RUNBOOK_FAULT_KILL: 'entry:20' });
    expectExit(killed, 128 + 9); // SIGKILL, passed on as the shell would
    // The run went into the sandbox's own state dir, not the outer one.
    expect(existsSync(path.join(stateDir, 'runs'))).toBe(false);
    const runs = await runbook(['--in', 'lab', 'runs', '--json']);
    expectExit(runs, 0);
    const [run, ...others] = JSON.parse(runs.stdout) as Array<{
      id: string;
      status: string;
      host: { sandbox?: string; netns: string };
    }>;
    expect(others).toEqual([]);
    expect(run?.status).toBe('interrupted');
    runId = run?.id as string;
    // Killed right after entry 20, by the kill point inside: exactly 20 entries are on disk.
    const journal = readFileSync(path.join(files().state, 'runs', `${runId}.ndjson`), 'utf8')
      .split('\n')
      .filter(Boolean);
    expect(journal).toHaveLength(20);
    // Bound to the sandbox: its name and its network namespace.
    const labNetns = (await lab().exec(['readlink', '/proc/self/ns/net'])).stdout.trim();
    expect(run?.host).toMatchObject({ sandbox: 'lab', netns: labNetns });
    expect(await host.snapshot()).toEqual(hostBefore);
  });

  it('--in lab resume finishes it: container1 exists inside the lab, and nowhere else', async () => {
    const resumed = await runbook(['--in', 'lab', 'resume']);
    expectExit(resumed, 0);
    expect(resumed.stdout).toContain(`run ${runId} resumed and succeeded`);
    expect(await netnsNames(lab())).toEqual(['container1', 'lan']);
    expectExit(await lab().exec(['ip', 'netns', 'exec', 'container1', 'ping', '-c1', '-W1', '10.0.0.10']), 0);
    expect(await host.snapshot()).toEqual(hostBefore);
  });

  it('--in lab check single-container: every step holds', async () => {
    const help = await runbook(['--help']);
    if (!/^\s+check\b/m.test(help.stdout)) {
      console.warn('skipped: this build has no `runbook check` command');
      return;
    }
    const checked = await runbook(['--in', 'lab', 'check', singleContainer]);
    expectExit(checked, 0);
    expect(checked.stdout).not.toContain('not ok');
  });

  it('sandbox shell: the tutorial commands work as written, with RUNBOOK_SANDBOX and a prompt naming the sandbox', async () => {
    const oneCommand = await runbook([
      'sandbox',
      'shell',
      'lab',
      '-c',
      'ip netns exec container1 ping -c1 -W1 10.0.0.10 && echo "sandbox=$RUNBOOK_SANDBOX" && runbook runs',
    ]);
    expectExit(oneCommand, 0);
    expect(oneCommand.stdout).toContain('1 received');
    expect(oneCommand.stdout).toContain('sandbox=lab');
    expect(oneCommand.stdout).toMatch(new RegExp(`${runId}\\s+single-container\\s+succeeded`));

    // Interactive: bash -i reading its commands from a pipe prints its prompts on stderr.
    const interactive = await execa(
      'nsenter',
      [
        '-t',
        String(host.pid),
        '-n',
        '-m',
        '--',
        process.execPath,
        cliPath,
        '--state-dir',
        stateDir,
        'sandbox',
        'shell',
        'lab',
      ],
      {
        input: 'ip -br addr show enp0s8\nip netns\nexit 0\n',
        reject: false,
        timeout: 30_000,
      },
    );
    expect(interactive.exitCode, interactive.stderr).toBe(0);
    expect(interactive.stderr).toContain('(sandbox lab) ');
    expect(interactive.stdout).toContain('10.0.0.10/24');
    expect(interactive.stdout).toContain('container1');
  });

  it('sandbox list shows the lab with its run', async () => {
    const listed = await runbook(['sandbox', 'list']);
    expectExit(listed, 0);
    expect(listed.stdout).toMatch(/^lab {2}alive, net:\[\d+\]$/m);
    expect(listed.stdout).toMatch(new RegExp(`${runId}\\s+single-container\\s+succeeded`));
    const json = JSON.parse((await runbook(['sandbox', 'list', '--json'])).stdout) as Array<{
      name: string;
      alive: boolean;
      runs: Array<{ id: string; status: string }>;
    }>;
    expect(json).toMatchObject([{ name: 'lab', alive: true, runs: [{ id: runId, status: 'succeeded' }] }]);
  });

  it('--in lab rollback undoes the run: the lab is as it was created', async () => {
    const rolledBack = await runbook(['--in', 'lab', 'rollback']);
    expectExit(rolledBack, 0);
    expect(rolledBack.stdout).toContain(`run ${runId} rolled back`);
    expect(await netnsNames(lab())).toEqual(['lan']);
    expect(await lab().snapshot()).toEqual(labAfterCreate);
    expect(await host.snapshot()).toEqual(hostBefore);
  });

  it('sandbox destroy refuses while a process is inside, then removes everything: no mount left, no dir', async () => {
    const sleeper = execa(
      'nsenter',
      [
        '-t',
        String(host.pid),
        '-n',
        '-m',
        '--',
        'nsenter',
        `--net=${files().net}`,
        `--mount=${files().mnt}`,
        '--',
        'sleep',
        '60',
      ],
      { reject: false },
    );
    try {
      // Wait until the sleeper is inside the lab (nsenter execs in place: same pid).
      const labNetns = (await lab().exec(['readlink', '/proc/self/ns/net'])).stdout.trim();
      for (let i = 0; i < 200; i++) {
        const ns = await execa('readlink', [`/proc/${sleeper.pid}/ns/net`], { reject: false });
        if (ns.stdout.trim() === labNetns) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const refused = await runbook(['sandbox', 'destroy', 'lab']);
      expectExit(refused, 2);
      expect(refused.stderr).toContain(`sandbox "lab" is in use by process(es) ${sleeper.pid}`);
      expect(await mountsUnder(host, files().dir)).toHaveLength(3);
    } finally {
      sleeper.kill('SIGKILL');
      await sleeper;
    }

    const destroyed = await runbook(['sandbox', 'destroy', 'lab']);
    expectExit(destroyed, 0);
    expect(destroyed.stdout).toContain('sandbox lab destroyed');
    expect(await mountsUnder(host, stateDir)).toEqual([]);
    expect(existsSync(files().dir)).toBe(false);
    const listed = await runbook(['sandbox', 'list']);
    expect(listed.stdout).toContain('no sandboxes');
    expectExit(await runbook(['--in', 'lab', 'runs']), 2);
    expect(await host.snapshot()).toEqual(hostBefore);
  });
});
