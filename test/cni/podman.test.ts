import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniHost, lessWhatIsKept as lessKept, type CniSnapshot } from '../helpers/cni-host.js';

/**
 * Real containers on a runbook's network (issue 25): rootful podman 4.3 with its CNI backend,
 * a client nobody here wrote, drives the plugin (runbook-cni) inside a sandbox host. Each
 * container must reach its gateway, the other containers and the stand-in internet address
 * 198.51.100.1 (through the masquerade); removing it must take its network away with nothing
 * left but what the documented policy keeps (the bridge, its address and the masquerade rule).
 */

const network = 'rbnet';
const subnet = '10.89.0.0/24';
const gateway = '10.89.0.1';
const internet = '198.51.100.1';
const lessWhatIsKept = (snapshot: CniSnapshot) => lessKept(snapshot, 'rbcni0', subnet);

let cni: CniHost;
/** The host before any container: no bridge, no rule. */
let pristine: CniSnapshot;

beforeAll(async () => {
  cni = await CniHost.create({ podman: true });
  await cni.writeNetwork(network, cni.runbookPlugin(subnet));
  pristine = await cni.snapshot();
}, 120_000);

afterAll(() => cni?.dispose());

/** The container's address on the network, as podman recorded the plugin's result. */
async function addressOf(name: string): Promise<string> {
  const result = await cni.podman([
    'inspect',
    '-f',
    `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`,
    name,
  ]);
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stdout.trim();
}

async function ping(name: string, target: string): Promise<number | undefined> {
  return (await cni.podman(['exec', name, 'ping', '-c1', '-W2', target])).exitCode;
}

describe('podman on a runbook network', () => {
  const containers = ['c1', 'c2', 'c3'];

  it('starts three containers at once, each reaching its gateway, the others and 198.51.100.1 through the masquerade', async () => {
    // Started together: the runtime calls the plugin concurrently, and the calls wait for each other.
    const started = await Promise.all(
      containers.map((name) =>
        cni.podman([
          'run',
          '-d',
          '--name',
          name,
          '--network',
          network,
          ...cni.runFlags,
          'localhost/bb:1',
          'sleep',
          '600',
        ]),
      ),
    );
    for (const result of started) expect(result.exitCode, result.stderr).toBe(0);

    const addresses = await Promise.all(containers.map(addressOf));
    expect(new Set(addresses).size).toBe(3);
    for (const address of addresses) expect(address).toMatch(/^10\.89\.0\.\d+$/);
    for (const [i, name] of containers.entries()) {
      expect(await ping(name, gateway), `${name} → gateway`).toBe(0);
      expect(await ping(name, internet), `${name} → ${internet}`).toBe(0);
      for (const [j, other] of addresses.entries())
        if (j !== i) expect(await ping(name, other), `${name} → ${other}`).toBe(0);
    }
    // The masquerade is what lets the stand-in internet answer: without the rule, no reply.
    const rule = ['-t', 'nat', '-D', 'POSTROUTING', '-s', subnet, '-j', 'MASQUERADE'];
    expect((await cni.host.exec(['iptables', '-w', '5', ...rule])).exitCode).toBe(0);
    expect(await ping('c1', internet)).not.toBe(0);
    expect((await cni.host.exec(['iptables', '-w', '5', ...rule.map((a) => (a === '-D' ? '-A' : a))])).exitCode).toBe(
      0,
    );
  });

  it("journals each container's run, named after the container, and the network's run once", async () => {
    const runs = await cni.runbook(network, ['runs', '--json']);
    expect(runs.exitCode, runs.stderr).toBe(0);
    const listed = JSON.parse(runs.stdout) as Array<{ id: string; runbook: string; status: string }>;
    expect(listed.filter((r) => r.runbook === 'cni-bridge-network').map((r) => r.status)).toEqual(['succeeded']);
    for (const name of containers) {
      const id = (await cni.podman(['inspect', '-f', '{{.Id}}', name])).stdout.trim();
      const run = listed.find((r) => r.runbook === 'cni-bridge' && r.id.endsWith(`-${id.slice(0, 8)}`));
      expect(run?.status, `the run of ${name}`).toBe('succeeded');
      const journal = await cni.runbook(network, ['journal', run?.id ?? '?']);
      expect(journal.exitCode, journal.stderr).toBe(0);
      expect(journal.stdout).toMatch(/ip link add name veth[0-9a-f]{8} address 02:/);
      expect(journal.stdout).toContain(`nsenter --net=/run/netns/`);
    }
  });

  it('CHECK passes, then reports an ip change made inside the container, then passes once it is undone', async () => {
    const name = 'c4';
    const run = await cni.podman([
      'run',
      '-d',
      '--name',
      name,
      '--network',
      network,
      ...cni.runFlags,
      '--cap-add',
      'NET_ADMIN',
      'localhost/bb:1',
      'sleep',
      '600',
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    const [id, netns] = (await cni.podman(['inspect', '-f', '{{.Id}} {{.NetworkSettings.SandboxKey}}', name])).stdout
      .trim()
      .split(' ');
    const address = await addressOf(name);
    const check = () =>
      cni.call('runbook-cni', 'CHECK', {
        containerId: id,
        netns,
        config: {
          cniVersion: '0.4.0',
          name: network,
          ...cni.runbookPlugin(subnet),
          prevResult: { cniVersion: '0.4.0', ips: [{ version: '4', address: `${address}/24`, gateway }] },
        },
      });
    const fine = await check();
    expect([fine.exitCode, fine.stdout, fine.stderr]).toEqual([0, '', '']);

    expect((await cni.podman(['exec', name, 'ip', 'route', 'del', 'default'])).exitCode).toBe(0);
    const drifted = await check();
    expect(drifted.exitCode).toBe(1);
    const error = JSON.parse(drifted.stdout) as { code: number; msg: string; details: string };
    expect(error.code).toBe(102);
    expect(error.msg).toContain('container-address');
    expect(error.msg).toContain(`no default route via ${gateway}`);
    expect(error.details).toContain(`ip route add default via ${gateway} dev eth0`);

    expect((await cni.podman(['exec', name, 'ip', 'route', 'add', 'default', 'via', gateway])).exitCode).toBe(0);
    expect((await check()).exitCode).toBe(0);
  });

  it('podman rm -f of each container never takes what the others use, and the last leaves the host as it was, less the bridge and the rule the policy keeps', async () => {
    for (const name of [...containers, 'c4']) {
      // -t 0: `sleep` as PID 1 ignores SIGTERM, and waiting out podman's 10 s stop timeout proves nothing.
      const removed = await cni.podman(['rm', '-f', '-t', '0', name]);
      expect(removed.exitCode, removed.stderr).toBe(0);
      // What the others share stays: the last one still reaches its gateway and the stand-in internet.
      if (name !== 'c4') {
        expect(await ping('c4', gateway), `c4 → gateway, ${name} gone`).toBe(0);
        expect(await ping('c4', internet), `c4 → ${internet}, ${name} gone`).toBe(0);
      }
    }
    const after = await cni.snapshot();
    expect(lessWhatIsKept(after)).toEqual(lessWhatIsKept(pristine));
    // What is kept is there: the bridge with the gateway address, and the masquerade rule.
    const host = after.kernel.host as { links: Array<{ ifname: string; kind?: string }>; addrs: string[] };
    expect(host.links.find((l) => l.ifname === 'rbcni0')?.kind).toBe('bridge');
    expect(host.addrs).toContain(`rbcni0 ${gateway}/24`);
    expect(after.iptables).toContain(`-A POSTROUTING -s ${subnet} -j MASQUERADE`);
    expect(await cni.allocations(network)).toEqual([]);
    const runs = JSON.parse((await cni.runbook(network, ['runs', '--json'])).stdout) as Array<{
      runbook: string;
      status: string;
    }>;
    expect(runs.filter((r) => r.runbook === 'cni-bridge').map((r) => r.status)).toEqual(Array(4).fill('rolled-back'));
  });

  for (const kill of ['cni-add:before-ipam', 'cni-add:after-ipam', 'cni-add:command:2', 'cni-add:command:5']) {
    it(`a plugin killed mid-ADD (${kill}) leaves nothing once podman's own cleanup has called DEL`, async () => {
      const before = await cni.snapshot();
      const run = await cni.podman(['run', '--rm', '--network', network, ...cni.runFlags, 'localhost/bb:1', 'true'], {
        RUNBOOK_FAULT_KILL: kill,
      });
      expect(run.exitCode).not.toBe(0);
      expect(run.stderr).toContain('signal: killed');
      expect(await cni.snapshot()).toEqual(before);
      expect(await cni.allocations(network)).toEqual([]);
      const runs = JSON.parse((await cni.runbook(network, ['runs', '--json'])).stdout) as Array<{
        runbook: string;
        status: string;
      }>;
      expect(runs.filter((r) => r.runbook === 'cni-bridge' && r.status !== 'rolled-back')).toEqual([]);
    });
  }
});
