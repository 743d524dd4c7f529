import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inSandbox, journalIds, journalLines, onlyRunId, waitFor } from '../helpers/cli-harness.js';
import { hostLockFile } from '../../src/host/host-lock.js';
import { SandboxHost } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 11: one runbook process changes a host at a time, whatever its state dir. Two state
 * dirs on one host (a checkout's state/ and /var/lib/runbook) used to let two runs claim the
 * same objects, and each one's rollback deleted the other's. The lock belongs to the network
 * namespace: every sandbox host has its own, so sandboxes never wait for each other. Every run
 * here happens inside a SandboxHost; the fixture only makes a network namespace there.
 */

/** A runbook whose one step makes namespace `ns`, then holds the host for `seconds`. */
function slowFixture(dir: string, seconds: string, ns = 'held'): string {
  const file = path.join(dir, `hold-the-host-${ns}.yaml`);
  writeFileSync(
    file,
    `name: hold-the-host
description: makes a namespace, then takes its time
steps:
  - id: make
    title: Make the namespace ${ns}, slowly
    why: to hold the host's lock while another process tries to take it
    do:
      - run: [sh, -c, "ip netns add ${ns} && exec sleep ${seconds}"]
        timeout: 30
    verify:
      - run: [ip, -j, netns, list]
        expect: { json: { name: ${ns} } }
    undo:
      - [ip, netns, del, ${ns}]
`,
  );
  return file;
}

/** A runbook whose one step makes namespace `ns` with `ip` alone (a one-shot sandbox runs no shell). */
function plainFixture(dir: string, ns: string): string {
  const file = path.join(dir, `make-${ns}.yaml`);
  writeFileSync(
    file,
    `name: make-${ns}
description: makes a namespace
steps:
  - id: make
    title: Make the namespace ${ns}
    why: to run in a one-shot sandbox while the outer host is held
    do:
      - [ip, netns, add, ${ns}]
    verify:
      - run: [ip, -j, netns, list]
        expect: { json: { name: ${ns} } }
    undo:
      - [ip, netns, del, ${ns}]
`,
  );
  return file;
}

/** The namespaces made in the sandbox host (not `lan`, its gateway's side, there from the start). */
async function namespaces(host: SandboxHost): Promise<string[]> {
  const list = (await host.ipJson(['netns', 'list'])) as Array<{ name: string }>;
  return list
    .map((n) => n.name)
    .filter((name) => name !== 'lan')
    .sort();
}

/** The pids of the fixture's `sleep SECONDS` (a unique duration), once there is one. */
async function sleepers(host: SandboxHost, seconds: string): Promise<string[]> {
  for (let tries = 0; tries < 200; tries++) {
    const found = (await host.exec(['pgrep', '-f', `^sleep ${seconds}$`])).stdout.trim();
    if (found !== '') return found.split('\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no sleep ${seconds} started`);
}

/** The host lock's file of the sandbox host's network namespace (src/host/host-lock.ts). */
async function hostLockFileOf(host: SandboxHost): Promise<string> {
  const netns = (await host.exec(['readlink', '/proc/self/ns/net'])).stdout.trim();
  return hostLockFile(netns);
}

/** True once the run in `stateDir` has journaled the start of its `do` command. */
function inItsDo(stateDir: string): boolean {
  const ids = journalIds(stateDir);
  return (
    ids.length === 1 &&
    journalLines(stateDir, ids[0] as string).some((l) => l.type === 'command-start' && l.phase === 'do')
  );
}

describe('one runbook process changes a host at a time, whatever its state dir', () => {
  it('two runs with different state dirs started together: one proceeds, the other exits 3 having changed nothing', async () => {
    const dir = tempDir();
    const [stateA, stateB] = [tempDir(), tempDir()];
    try {
      const file = slowFixture(dir, '3');
      await inSandbox(async (host) => {
        const before = await host.snapshot();
        const a = host.startRunbook(['run', file, '--state-dir', stateA]);
        const b = host.startRunbook(['run', file, '--state-dir', stateB]);
        const results = [await a.done, await b.done];
        const codes = results.map((r) => r.exitCode).sort();
        expect(codes, results.map((r) => r.stdout + r.stderr).join('\n---\n')).toEqual([0, 3]);

        const [winner, loser] = results[0]?.exitCode === 0 ? [stateA, stateB] : [stateB, stateA];
        const refused = results.find((r) => r.exitCode === 3);
        expect(refused?.stderr).toContain('another runbook process is changing this host');
        expect(refused?.stderr).toContain(`its runs are in ${winner}`);
        expect(refused?.stderr).toContain('nothing was changed');
        // The loser recorded no run and made nothing: only the winner's namespace is there.
        expect(journalIds(loser)).toEqual([]);
        expect(await namespaces(host)).toEqual(['held']);
        const runId = onlyRunId(winner);
        expect(journalLines(winner, runId).filter((l) => l.type === 'command-start' && l.phase === 'do')).toHaveLength(
          1,
        );

        const rollback = await host.runbook(['rollback', '--state-dir', winner]);
        expect(rollback.exitCode, rollback.stderr).toBe(0);
        expect(await host.snapshot()).toEqual(before);
      });
    } finally {
      for (const d of [dir, stateA, stateB]) removeDir(d);
    }
  });

  it('while a run holds the host, rollback, rollback --all and resume from another state dir exit 3 and touch nothing', async () => {
    const dir = tempDir();
    const [stateA, stateB] = [tempDir(), tempDir()];
    try {
      const file = slowFixture(dir, '6');
      await inSandbox(async (host) => {
        // State dir B has a run to act on (it made namespace heldb).
        const first = await host.runbook(['run', slowFixture(dir, '0', 'heldb'), '--state-dir', stateB]);
        expect(first.exitCode, first.stderr).toBe(0);
        const a = host.startRunbook(['run', file, '--state-dir', stateA]);
        await waitFor('run A in its do', () => inItsDo(stateA) || journalIds(stateA).length > 1);
        for (const args of [['rollback'], ['rollback', '--all'], ['resume']]) {
          const refused = await host.runbook([...args, '--state-dir', stateB]);
          expect(refused.exitCode, `${args.join(' ')}: ${refused.stdout}${refused.stderr}`).toBe(3);
          expect(refused.stderr).toContain(`another runbook process is changing this host`);
        }
        // A one-shot --sandbox run is another network namespace: it has a lock of its own.
        const stateC = tempDir();
        try {
          const oneShot = await host.runbook(['run', plainFixture(dir, 'heldc'), '--sandbox', '--state-dir', stateC]);
          expect(oneShot.exitCode, oneShot.stdout + oneShot.stderr).toBe(0);
        } finally {
          removeDir(stateC);
        }
        // All of that while A was still in its do.
        expect(journalLines(stateA, onlyRunId(stateA)).some((l) => l.type === 'command-end' && l.phase === 'do')).toBe(
          false,
        );
        // B's run was not rolled back: its journal records no rollback attempt.
        expect(journalLines(stateB, onlyRunId(stateB)).some((l) => l.type === 'attempt-start')).toBe(false);
        expect(await namespaces(host)).toEqual(['held', 'heldb']);
        expect((await a.done).exitCode).toBe(0);
      });
    } finally {
      for (const d of [dir, stateA, stateB]) removeDir(d);
    }
  });

  it('two sandbox hosts each run at the same time: the lock is per network namespace', async () => {
    const dir = tempDir();
    const [stateA, stateB] = [tempDir(), tempDir()];
    const hosts = await Promise.all([SandboxHost.create(), SandboxHost.create()]);
    try {
      const file = slowFixture(dir, '2');
      const [one, two] = hosts as [SandboxHost, SandboxHost];
      const runs = [
        one.startRunbook(['run', file, '--state-dir', stateA]),
        two.startRunbook(['run', file, '--state-dir', stateB]),
      ];
      for (const run of runs) {
        const result = await run.done;
        expect(result.exitCode, result.stderr).toBe(0);
      }
      // They overlapped: each one's do started before the other's ended.
      const window = (stateDir: string) => {
        const lines = journalLines(stateDir, onlyRunId(stateDir));
        const start = lines.find((l) => l.type === 'command-start' && l.phase === 'do')?.time ?? '';
        const end = lines.find((l) => l.type === 'command-end' && l.phase === 'do')?.time ?? '';
        return [Date.parse(start), Date.parse(end)] as const;
      };
      const [a, b] = [window(stateA), window(stateB)];
      expect(a[0] < b[1] && b[0] < a[1], `do windows ${a.join('..')} and ${b.join('..')}`).toBe(true);
      expect(await namespaces(one)).toEqual(['held']);
      expect(await namespaces(two)).toEqual(['held']);
    } finally {
      for (const host of hosts) host.dispose();
      for (const d of [dir, stateA, stateB]) removeDir(d);
    }
  });

  it('the lock is free again as soon as its holder is killed with SIGKILL', async () => {
    const dir = tempDir();
    const [stateA, stateB] = [tempDir(), tempDir()];
    try {
      const file = slowFixture(dir, '20.7391');
      await inSandbox(async (host) => {
        const a = host.startRunbook(['run', file, '--state-dir', stateA]);
        await waitFor('run A in its do', () => inItsDo(stateA));
        await sleepers(host, '20.7391');
        process.kill(a.pid, 'SIGKILL');
        await a.done;
        // Its `sleep` (a process group of its own) lives on: it must not hold the lock.
        const sleeping = await sleepers(host, '20.7391');
        // Nobody holds the host's lock: flock takes it at once (the kernel's word, not runbook's).
        const lockFile = await hostLockFileOf(host);
        const free = await host.exec(['sh', '-c', '[ ! -e "$1" ] || flock --nonblock "$1" true', 'sh', lockFile]);
        expect(free.exitCode, free.stderr).toBe(0);

        // Another state dir's rollback --all (nothing to do there) and a run both get the lock.
        const b = await host.runbook(['rollback', '--all', '--state-dir', stateB]);
        expect(b.exitCode, b.stderr).toBe(0);
        const again = await host.runbook(['rollback', '--state-dir', stateA]);
        expect(again.exitCode, again.stdout + again.stderr).toBe(0);
        expect(await namespaces(host)).toEqual([]);
        await host.exec(['kill', ...sleeping]); // the sleep we started, by its pid
      });
    } finally {
      for (const d of [dir, stateA, stateB]) removeDir(d);
    }
  });
});

/**
 * What an unprivileged user (uid 65534) does to squat the lock, inside the sandbox host: binds
 * the abstract socket the lock used to be (answering with a made-up holder), and tries to make,
 * open and flock the lock's directory and file. Prints what each attempt got, then stays bound.
 */
const squatter = `
const net = require('node:net');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const [lockFile] = process.argv.slice(1);
const fake = JSON.stringify({ pid: 4242, command: 'run FAKE-HOLDER', stateDir: '/FAKE-STATE', since: 'forever' });
const got = {};
const attempt = (name, fn) => { try { fn(); got[name] = 'ok'; } catch (e) { got[name] = e.code; } };
attempt('mkdir', () => fs.mkdirSync('/run/runbook', { mode: 0o777 }));
attempt('open', () => fs.closeSync(fs.openSync(lockFile, 'a')));
attempt('read', () => fs.readFileSync(lockFile));
got.flockDir = spawnSync('flock', ['--nonblock', '--shared', '/run/runbook', 'true']).status;
got.flockFile = spawnSync('flock', ['--nonblock', '--shared', lockFile, 'true']).status;
const server = net.createServer((s) => s.end(fake + '\\n'));
server.listen({ path: '\\0' + 'runbook-host-lock'.padEnd(107, '.') }, () => {
  fs.writeFileSync(process.env.SQUATTER_REPORT, JSON.stringify(got));
});
setTimeout(() => process.exit(0), 60000);
`;

describe('no unprivileged user can hold or forge the host lock (issue 22)', () => {
  it('uid 65534 squatting every way it can: root is not blocked, and no fake holder is ever named', async () => {
    const dir = tempDir();
    const [stateA, stateB] = [tempDir(), tempDir()];
    const report = path.join('/tmp', `runbook-squatter-${process.pid}-${Date.now()}.json`);
    try {
      const file = slowFixture(dir, '3.1416');
      await inSandbox(async (host) => {
        const lockFile = await hostLockFileOf(host);
        const squat = host.start(
          [
            'setpriv',
            '--reuid=65534',
            '--regid=65534',
            '--clear-groups',
            '--',
            process.execPath,
            '-e',
            squatter,
            lockFile,
          ],
          { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SQUATTER_REPORT: report } },
        );
        await waitFor('the squatter bound and tried', () => existsSync(report));
        const tried = JSON.parse(readFileSync(report, 'utf8')) as Record<string, unknown>;
        // Nothing of the lock's is within its reach.
        expect(['EACCES', 'EEXIST']).toContain(tried.mkdir);
        expect(tried).toMatchObject({ open: 'EACCES', read: 'EACCES' });
        expect(tried.flockDir).not.toBe(0);
        expect(tried.flockFile).not.toBe(0);
        const listening = await host.exec(['ss', '-xl']);
        expect(listening.stdout).toContain('@runbook-host-lock');

        // Root runs as if nobody were there; a second root process is told of the real holder.
        const a = host.startRunbook(['run', file, '--state-dir', stateA]);
        await waitFor('run A in its do', () => inItsDo(stateA));
        const b = await host.runbook(['run', file, '--state-dir', stateB]);
        expect(b.exitCode, b.stderr).toBe(3);
        expect(b.stderr).toContain(`pid ${a.pid} (uid 0`);
        expect(b.stderr).toContain(`its runs are in ${stateA}`);
        const done = await a.done;
        expect(done.exitCode, done.stderr).toBe(0);
        for (const output of [b.stdout + b.stderr, done.stdout + done.stderr]) {
          expect(output).not.toContain('FAKE');
          expect(output).not.toContain('4242');
        }
        // The directory is still root's alone.
        const mode = await host.exec(['stat', '-c', '%U %a', '/run/runbook']);
        expect(mode.stdout.trim()).toBe('root 700');
        process.kill(squat.pid, 'SIGKILL');
        await squat.done;
      });
    } finally {
      for (const d of [dir, stateA, stateB]) removeDir(d);
      rmSync(report, { force: true });
    }
  });
});
