import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inSandbox, journalIds, journalLines, onlyRunId, waitFor } from '../helpers/cli-harness.js';
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
        const listening = await host.exec(['ss', '-xlp']);
        expect(listening.stdout).not.toContain('@runbook-host-lock');

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
