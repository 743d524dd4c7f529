import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniHost, lessWhatIsKept, type CniSnapshot } from '../helpers/cni-host.js';
import { cliPath } from '../helpers/sandbox-host.js';

/**
 * docs/cni.md's "Try it with podman", executed ("docs that run"): its `sh` blocks, as written,
 * in a sandbox host like the one the doc starts from, as root, with `runbook` and `runbook-cni`
 * installed as commands (links to this checkout's CLI on PATH). The sandbox's /run, /var/lib,
 * /etc/cni and /usr/lib/cni are its own, so that the doc's installing into the system's places
 * stays in it. What podman needs on this machine and not on a stock one (runc, cgroupfs, vfs,
 * smaller ulimits: TUTORIAL.md) comes from the environment, not from the doc's commands.
 */

const doc = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/cni.md');

/** The `sh` blocks of one section of the doc, in order. */
function shBlocks(markdown: string, section: string): string[] {
  const start = markdown.indexOf(`\n## ${section}\n`);
  const end = markdown.indexOf('\n## ', start + 1);
  const text = markdown.slice(start, end === -1 ? undefined : end);
  return [...text.matchAll(/\n```sh\n([\s\S]*?)\n```\n/g)].map((m) => m[1] as string);
}

let cni: CniHost;
let blocks: string[];
let pristine: CniSnapshot;
const bin = '/run/doc-bin';
const work = '/run/doc-work';

beforeAll(async () => {
  blocks = shBlocks(readFileSync(doc, 'utf8'), 'Try it with podman');
  cni = await CniHost.create();
  const setup = [
    // The system's places the doc writes to, private to the sandbox (a copy keeps the reference plugins).
    'cp -a /usr/lib/cni /run/usr-lib-cni && mount --bind /run/usr-lib-cni /usr/lib/cni',
    'mount -t tmpfs tmpfs /etc/cni',
    `mkdir -p ${bin} ${work} && ln -s ${cliPath} ${bin}/runbook && ln -s ${cliPath} ${bin}/runbook-cni`,
    // This machine's podman quirks (TUTORIAL.md), as configuration rather than flags.
    `printf '[containers]\\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\\n[engine]\\nruntime = "runc"\\ncgroup_manager = "cgroupfs"\\n[network]\\nnetwork_backend = "cni"\\n' > /run/containers.conf`,
    `printf '[storage]\\ndriver = "vfs"\\nrunroot = "/run/containers/storage"\\ngraphroot = "/var/lib/containers/storage"\\n' > /run/storage.conf`,
  ];
  const result = await cni.host.exec(['bash', '-c', setup.join(' && ')]);
  expect(result.exitCode, result.stderr).toBe(0);
  pristine = await cni.snapshot();
}, 120_000);

afterAll(() => cni?.dispose());

/** Runs one of the doc's blocks as root types it, from a work directory, stopping at the first failure. */
function typed(block: string) {
  return cni.host.exec(['bash', '-c', `set -euo pipefail; cd ${work}\n${block}`], {
    env: {
      PATH: `${bin}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
      CONTAINERS_CONF: '/run/containers.conf',
      CONTAINERS_STORAGE_CONF: '/run/storage.conf',
    },
    timeoutMs: 180_000,
  });
}

describe('docs/cni.md, typed as a new user would', () => {
  it('has the three blocks of its walk-through', () => {
    expect(blocks).toHaveLength(3);
  });

  it('gives a container that reaches its gateway and the stand-in internet, its run journaled', async () => {
    for (const block of blocks.slice(0, 2)) {
      const result = await typed(block);
      expect(result.exitCode, `${block}\n${result.stdout}\n${result.stderr}`).toBe(0);
    }
    const runs = await cni.host.runbook(['--state-dir', '/var/lib/runbook/cni/rbnet', 'runs', '--json']);
    const listed = JSON.parse(runs.stdout) as Array<{ id: string; runbook: string; status: string }>;
    expect(listed.map((r) => [r.runbook, r.status])).toEqual([
      ['cni-bridge-network', 'succeeded'],
      ['cni-bridge', 'succeeded'],
    ]);
  });

  it('and podman rm takes its network away with nothing left but what the network keeps', async () => {
    const result = await typed(blocks[2] as string);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/cni-bridge +rolled-back/);
    expect(lessWhatIsKept(await cni.snapshot(), 'rbcni0', '10.89.0.0/24')).toEqual(
      lessWhatIsKept(pristine, 'rbcni0', '10.89.0.0/24'),
    );
    const left = await cni.host.exec(['bash', '-c', 'ls /var/lib/cni/networks/rbnet']);
    expect(left.stdout.split('\n').filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))).toEqual([]);
  });
});
