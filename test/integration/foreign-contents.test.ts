import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inSandbox, journalLines, onlyRunId, runs } from '../helpers/cli-harness.js';
import type { SandboxHost } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 22, item 5: rollback never removes an object that holds something the run did not
 * create, whichever state dir — or no runbook at all — created it. Before an undo deletes a
 * namespace, a bridge or a link, the engine reads what it holds from the kernel; anything the
 * run did not make refuses that step (exit 1, the evidence in the message and the journal),
 * and the object stays, with what is in it. Every run happens inside a SandboxHost.
 */

/** Run B's runbook: finds container1 in place, and adds a veth pair of its own inside it. */
function linkInside(dir: string): string {
  const file = path.join(dir, 'link-inside.yaml');
  writeFileSync(
    file,
    `name: link-inside
description: adds a veth pair inside an existing namespace
steps:
  - id: namespace
    title: The namespace container1
    why: B builds on it
    do: [[ip, netns, add, container1]]
    verify: [{ run: [ip, -j, netns, list], expect: { json: { name: container1 } } }]
    undo: [[ip, netns, del, container1]]
  - id: pair
    title: A veth pair b-link / b-peer inside container1
    why: B's own link
    do: [[ip, -n, container1, link, add, b-link, type, veth, peer, name, b-peer]]
    verify: [{ run: [ip, -n, container1, link, show, dev, b-link] }]
    undo: [[ip, -n, container1, link, del, dev, b-link]]
`,
  );
  return file;
}

async function namespaces(host: SandboxHost): Promise<string[]> {
  const list = (await host.ipJson(['netns', 'list'])) as Array<{ name: string }>;
  return list.map((n) => n.name).filter((n) => n !== 'lan');
}

async function linkNames(host: SandboxHost, netns?: string): Promise<string[]> {
  const links = (await host.ipJson([...(netns === undefined ? [] : ['-n', netns]), 'link', 'show'])) as Array<{
    ifname: string;
  }>;
  return links.map((l) => l.ifname).sort();
}

describe('rollback never deletes what holds something the run did not make', () => {
  it('run A (state dir 1) made container1, run B (state dir 2) added a link inside: rollback A refuses, naming B, and deletes nothing of B', async () => {
    const dir = tempDir();
    const [stateA, stateB] = [tempDir(), tempDir()];
    try {
      await inSandbox(async (host) => {
        const before = await host.snapshot();
        const a = await host.runbook(['run', 'single-container', '--set', 'ping_deadline=1', '--state-dir', stateA]);
        expect(a.exitCode, a.stderr).toBe(0);
        const b = await host.runbook(['run', linkInside(dir), '--state-dir', stateB]);
        expect(b.exitCode, b.stderr).toBe(0);
        const runA = onlyRunId(stateA);
        const runB = onlyRunId(stateB);

        const rollback = await host.runbook(['rollback', '--state-dir', stateA]);
        expect(rollback.exitCode, rollback.stdout + rollback.stderr).toBe(1);
        expect(rollback.stderr).toContain(
          'stopped at step namespace: refused: the namespace container1 holds what this run did not make: ',
        );
        expect(rollback.stderr).toContain(`link b-link (made by run ${runB} of ${stateB}: link-inside, succeeded)`);
        expect(rollback.stderr).toContain('link b-peer');
        expect(rollback.stdout).toContain('refused');
        // B's link, and the namespace it is in, are there; A's own objects outside it are undone.
        expect(await namespaces(host)).toEqual(['container1']);
        expect(await linkNames(host, 'container1')).toEqual(['b-link', 'b-peer', 'lo']);
        expect(await linkNames(host)).not.toContain('veth1');
        // The journal has the evidence, as a failed precondition has it.
        const guard = journalLines(stateA, runA).filter((l) => l.type === 'check' && l.phase === 'undo-guard');
        expect(guard.at(-1)).toMatchObject({ step: 'namespace', ok: false, reason: expect.stringContaining('b-link') });
        expect(runs(stateB).map((r) => r.status)).toEqual(['succeeded']);

        // B rolled back first (its found-in-place namespace is not its to undo), then A finishes.
        const rollbackB = await host.runbook(['rollback', '--state-dir', stateB]);
        expect(rollbackB.exitCode, rollbackB.stderr).toBe(0);
        const again = await host.runbook(['rollback', '--state-dir', stateA]);
        expect(again.exitCode, again.stderr).toBe(0);
        expect(await host.snapshot()).toEqual(before);
      });
    } finally {
      for (const d of [dir, stateA, stateB]) removeDir(d);
    }
  });

  it('a port added to the bridge by hand (no runbook at all): rollback refuses to delete br0, then finishes once it is gone', async () => {
    await inSandbox(async (host, stateDir) => {
      const before = await host.snapshot();
      const run = await host.runbook(['run', 'multi-container', '--set', 'count=1', '--state-dir', stateDir]);
      expect(run.exitCode, run.stderr).toBe(0);
      for (const argv of [
        ['ip', 'link', 'add', 'x-port', 'type', 'veth', 'peer', 'name', 'x-peer'],
        ['ip', 'link', 'set', 'x-port', 'master', 'br0'],
      ])
        expect((await host.exec(argv)).exitCode).toBe(0);

      const rollback = await host.runbook(['rollback', '--state-dir', stateDir]);
      expect(rollback.exitCode, rollback.stdout + rollback.stderr).toBe(1);
      expect(rollback.stderr).toContain(
        'refused: the link br0 holds what this run did not make: port x-port (made by no run this host knows of)',
      );
      expect(await linkNames(host)).toEqual(expect.arrayContaining(['br0', 'x-port', 'x-peer']));

      expect((await host.exec(['ip', 'link', 'del', 'x-port'])).exitCode).toBe(0);
      const again = await host.runbook(['rollback', '--state-dir', stateDir]);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(await host.snapshot()).toEqual(before);
    });
  });

  it("an address added by hand on the host end of the run's veth: deleting the container end (which takes the pair) is refused", async () => {
    await inSandbox(async (host, stateDir) => {
      const run = await host.runbook(['run', 'single-container', '--set', 'ping_deadline=1', '--state-dir', stateDir]);
      expect(run.exitCode, run.stderr).toBe(0);
      expect((await host.exec(['ip', 'addr', 'add', '10.50.0.1/24', 'dev', 'veth1'])).exitCode).toBe(0);

      const rollback = await host.runbook(['rollback', '--state-dir', stateDir]);
      expect(rollback.exitCode, rollback.stdout + rollback.stderr).toBe(1);
      expect(rollback.stderr).toContain(
        'stopped at step move-container-end: refused: the link ceth1 in container1 holds what this run did not make: address 10.50.0.1/24 on veth1, the other end of ceth1',
      );
      const addresses = (await host.ipJson(['addr', 'show', 'dev', 'veth1'])) as Array<{
        addr_info: Array<{ local: string }>;
      }>;
      expect(addresses[0]?.addr_info.map((a) => a.local)).toContain('10.50.0.1');
    });
  });
});
