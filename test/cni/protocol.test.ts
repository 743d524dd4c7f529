import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniHost } from '../helpers/cni-host.js';

/**
 * The plugin called directly, as a runtime calls it (the CNI spec, issue 25): the CNI_*
 * variables, the configuration on stdin, the result or the spec's error object on stdout and
 * nothing on stderr. Checked against the kernel of a sandbox host, and host-local's data dir.
 */

const network = 'direct';
const subnet = '10.77.0.0/24';

let cni: CniHost;
let config: Record<string, unknown>;

beforeAll(async () => {
  cni = await CniHost.create();
  config = { cniVersion: '1.0.0', name: network, ...cni.runbookPlugin(subnet) };
  // The first ADD makes the network (bridge, address, forwarding, masquerade), which every
  // DEL keeps: made here, so that each test starts from a host that has it, whatever runs first.
  const netns = await container('w0');
  expect((await add('w0', netns)).exitCode).toBe(0);
  expect((await del('w0', netns)).exitCode).toBe(0);
  expect((await cni.host.exec(['ip', 'netns', 'del', 'w0'])).exitCode).toBe(0);
});
afterAll(() => cni?.dispose());

/** A fresh namespace for a "container", by path as a runtime gives it. */
async function container(name: string): Promise<string> {
  expect((await cni.host.exec(['ip', 'netns', 'add', name])).exitCode).toBe(0);
  return `/run/netns/${name}`;
}

const add = (id: string, netns: string, conf = config, env: Record<string, string> = {}) =>
  cni.call('runbook-cni', 'ADD', { containerId: id, netns, config: conf, env });
const del = (id: string, netns: string, conf = config) =>
  cni.call('runbook-cni', 'DEL', { containerId: id, netns, config: conf });

interface Result {
  cniVersion: string;
  interfaces: Array<{ name: string; mac?: string; sandbox?: string }>;
  ips: Array<{ address: string; gateway?: string; interface?: number; version?: string }>;
  routes: Array<{ dst: string; gw?: string }>;
}

describe('the CNI protocol', () => {
  it('VERSION lists 0.4.0 and 1.0.0, on stdout alone', async () => {
    const result = await cni.call('runbook-cni', 'VERSION', { config: { cniVersion: '1.0.0' } });
    expect([result.exitCode, result.stderr]).toEqual([0, '']);
    expect(JSON.parse(result.stdout)).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0'] });
  });

  it('ADD prints the result the kernel shows: bridge, host end, container end in its namespace, address, gateway, route', async () => {
    const netns = await container('a1');
    const added = await add('a1', netns);
    expect([added.exitCode, added.stderr]).toEqual([0, '']);
    const result = JSON.parse(added.stdout) as Result;
    expect(result.cniVersion).toBe('1.0.0');
    const [bridge, hostEnd, inside] = result.interfaces;
    expect(bridge?.name).toBe('rbcni0');
    expect(hostEnd?.name).toMatch(/^veth[0-9a-f]{8}$/);
    expect(inside).toEqual({ name: 'eth0', mac: expect.stringMatching(/^02:/), sandbox: netns });
    expect(result.ips).toEqual([
      { address: expect.stringMatching(/^10\.77\.0\.\d+\/24$/), gateway: '10.77.0.1', interface: 2 },
    ]);
    expect(result.routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.77.0.1' }]);

    // Every name and address in it is the kernel's.
    const [bridgeLink] = (await cni.host.ipJson(['link', 'show', 'dev', 'rbcni0'])) as Array<{ address: string }>;
    expect(bridgeLink?.address).toBe(bridge?.mac);
    const [hostLink] = (await cni.host.ipJson(['link', 'show', 'dev', hostEnd?.name ?? '?'])) as Array<{
      address: string;
      master: string;
    }>;
    expect(hostLink).toMatchObject({ address: hostEnd?.mac, master: 'rbcni0' });
    const [innerLink] = (await cni.host.ipJson(['-n', 'a1', 'addr', 'show', 'dev', 'eth0'])) as Array<{
      address: string;
      addr_info: Array<{ family: string; local: string; prefixlen: number }>;
    }>;
    expect(innerLink?.address).toBe(inside?.mac);
    const ip = innerLink?.addr_info.find((a) => a.family === 'inet');
    expect(`${ip?.local}/${ip?.prefixlen}`).toBe(result.ips[0]?.address);
    expect(await cni.allocations(network)).toEqual([result.ips[0]?.address.split('/')[0]]);
    expect((await cni.host.exec(['ip', 'netns', 'exec', 'a1', 'ping', '-c1', '-W2', '198.51.100.1'])).exitCode).toBe(0);

    const deleted = await del('a1', netns);
    expect([deleted.exitCode, deleted.stdout, deleted.stderr]).toEqual([0, '', '']);
    expect(await cni.allocations(network)).toEqual([]);
  });

  it('ADD reaches a namespace given as /proc/PID/ns/net, not a name under /run/netns, and DEL takes it all away', async () => {
    const baseline = await cni.snapshot();
    // A process in a network namespace of its own that nothing names: as a runtime without /run/netns holds one.
    const holder = cni.host.start(['unshare', '--net', 'sleep', '120'], { env: { PATH: process.env.PATH ?? '' } });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const netns = `/proc/${holder.pid}/ns/net`;
      const added = await add('p1', netns);
      expect(added.exitCode, added.stdout).toBe(0);
      expect((JSON.parse(added.stdout) as Result).interfaces[2]?.sandbox).toBe(netns);
      const inside = await cni.host.exec(['nsenter', `--net=${netns}`, 'ping', '-c1', '-W2', '198.51.100.1']);
      expect(inside.exitCode, inside.stderr).toBe(0);
      expect((await del('p1', netns)).exitCode).toBe(0);
      const left = await cni.host.exec(['nsenter', `--net=${netns}`, 'ip', '-o', 'link', 'show']);
      expect(left.stdout).not.toContain('eth0');
      expect(await cni.snapshot()).toEqual(baseline);
      expect(await cni.allocations(network)).toEqual([]);
    } finally {
      process.kill(holder.pid, 'SIGKILL');
      await holder.done;
    }
  });

  it('ADD with cniVersion 0.4.0 marks each address with its IP version', async () => {
    const netns = await container('a2');
    const added = await add('a2', netns, { ...config, cniVersion: '0.4.0' });
    expect(added.exitCode, added.stdout).toBe(0);
    const result = JSON.parse(added.stdout) as Result;
    expect(result.cniVersion).toBe('0.4.0');
    expect(result.ips[0]?.version).toBe('4');
    expect((await del('a2', netns)).exitCode).toBe(0);
  });

  it('refuses a second ADD of the same container and interface (code 103), changing nothing', async () => {
    const netns = await container('a3');
    expect((await add('a3', netns)).exitCode).toBe(0);
    const before = await cni.snapshot();
    const allocated = await cni.allocations(network);
    const again = await add('a3', netns);
    expect(again.exitCode).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ cniVersion: '1.0.0', code: 103 });
    expect(await cni.snapshot()).toEqual(before);
    expect(await cni.allocations(network)).toEqual(allocated);
    expect((await del('a3', netns)).exitCode).toBe(0);
  });

  it('DEL succeeds again, without a namespace, and after the runtime deleted the namespace first', async () => {
    const baseline = await cni.snapshot();
    const netns = await container('a4');
    expect((await add('a4', netns)).exitCode).toBe(0);
    // The runtime removed the container's namespace, and with it the veth pair, before DEL.
    expect((await cni.host.exec(['ip', 'netns', 'del', 'a4'])).exitCode).toBe(0);
    const first = await del('a4', netns);
    expect([first.exitCode, first.stdout, first.stderr]).toEqual([0, '', '']);
    expect((await del('a4', netns)).exitCode).toBe(0);
    expect((await del('a4', '')).exitCode).toBe(0);
    expect(await cni.snapshot()).toEqual(baseline);
    expect(await cni.allocations(network)).toEqual([]);
  });

  it('a step that fails is diagnosed (code 100), and what ADD did is rolled back and the address released', async () => {
    const netns = await container('a5');
    // The container has an eth0 already (someone else's): the pair cannot be made, nor is that eth0 touched.
    expect(
      (await cni.host.exec(['ip', '-n', 'a5', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'x0'])).exitCode,
    ).toBe(0);
    const before = await cni.snapshot();
    const added = await add('a5', netns);
    expect(added.exitCode).toBe(1);
    const error = JSON.parse(added.stdout) as { code: number; msg: string; details: string };
    expect(error.code).toBe(100);
    expect(error.msg).toMatch(/^runbook cni-bridge failed at step veth-pair \(run \S+-[0-9a-f]{8}\); /);
    expect(error.details).toContain('cause: the container has an eth0 already, which is not this veth pair');
    // The run's journal, as the operator must ask for it: in the network's own state dir.
    const runId = /\(run (\S+)\)/.exec(error.msg)?.[1];
    expect(error.details).toContain(
      `what the run did: runbook --state-dir ${cni.dataRoot}/state/${network} journal ${runId}`,
    );
    expect(await cni.snapshot()).toEqual(before);
    expect(await cni.allocations(network)).toEqual([]);
    expect((await del('a5', netns)).exitCode).toBe(0);
  });

  const refusals: Array<[string, Record<string, string>, () => Record<string, unknown>, number]> = [
    ['an unsupported cniVersion', {}, () => ({ ...config, cniVersion: '0.3.1' }), 1],
    ['an unknown field', {}, () => ({ ...config, bridgeName: 'x' }), 2],
    ['an unknown runbook', {}, () => ({ ...config, runbook: 'no-such-runbook' }), 7],
    ['a parameter the plugin sets', {}, () => ({ ...config, params: { address: '10.77.0.99/24' } }), 7],
    ['a parameter of neither runbook', {}, () => ({ ...config, params: { colour: 'blue' } }), 7],
    ['an invalid parameter value', {}, () => ({ ...config, params: { bridge: 'a bridge' } }), 7],
    ['an IPAM plugin not on CNI_PATH', {}, () => ({ ...config, ipam: { type: 'no-such-ipam' } }), 7],
    ['no CNI_CONTAINERID', { CNI_CONTAINERID: '' }, () => config, 4],
    ['a relative CNI_NETNS', { CNI_NETNS: 'run/netns/x' }, () => config, 4],
  ];
  for (const [what, env, conf, code] of refusals) {
    it(`refuses ${what} with the spec's code ${code}, allocating and changing nothing`, async () => {
      const before = await cni.snapshot();
      const netns = '/run/netns/never';
      const result = await cni.call('runbook-cni', 'ADD', { containerId: 'r1', netns, config: conf(), env });
      expect([result.exitCode, result.stderr]).toEqual([1, '']);
      expect(JSON.parse(result.stdout)).toMatchObject({ code, msg: expect.any(String) });
      expect(await cni.snapshot()).toEqual(before);
      expect(await cni.allocations(network)).toEqual([]);
    });
  }

  it('refuses a network state dir others can write (code 104), before anything is allocated or changed', async () => {
    const stateDir = `${cni.dir}/loose-state`;
    const loose = { ...config, name: 'loose', stateDir };
    expect(
      (await cni.host.exec(['bash', '-c', `mkdir -p ${stateDir}/loose && chmod 0777 ${stateDir}/loose`])).exitCode,
    ).toBe(0);
    const netns = await container('t1');
    const before = await cni.snapshot();
    const added = await add('t1', netns, loose);
    expect(added.exitCode).toBe(1);
    const error = JSON.parse(added.stdout) as { code: number; msg: string };
    expect(error.code).toBe(104);
    expect(error.msg).toContain(`${stateDir}/loose`);
    expect(await cni.snapshot()).toEqual(before);
    expect(await cni.allocations('loose')).toEqual([]);
  });

  it("ADD and DEL from a working directory deleted since (the runtime's) succeed: the plugin never uses it", async () => {
    const netns = await container('cwd1');
    const fromGone = (command: string) =>
      cni.host.exec(
        [
          'bash',
          '-c',
          `mkdir ${cni.dir}/gone && cd ${cni.dir}/gone && rmdir ${cni.dir}/gone && exec ${cni.dir}/bin/runbook-cni`,
        ],
        {
          input: JSON.stringify(config),
          env: {
            CNI_COMMAND: command,
            CNI_CONTAINERID: 'cwd1',
            CNI_NETNS: netns,
            CNI_IFNAME: 'eth0',
            CNI_PATH: cni.cniPath,
          },
        },
      );
    const added = await fromGone('ADD');
    expect(added.stdout).not.toContain('uv_cwd');
    expect(added.exitCode).toBe(0);
    expect(added.stderr).toBe('');
    expect((await fromGone('DEL')).exitCode).toBe(0);
  });

  it('refuses a configuration that is not JSON with code 6', async () => {
    const result = await cni.host.exec([`${cni.dir}/bin/runbook-cni`], {
      input: '{"cniVersion": ',
      env: {
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: 'j1',
        CNI_NETNS: '/run/netns/j1',
        CNI_IFNAME: 'eth0',
        CNI_PATH: cni.cniPath,
      },
    });
    expect(result.exitCode).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ code: 6 });
  });
});

describe('concurrent calls', () => {
  it('ADDs of six containers at once wait for each other and all succeed, as do their DELs', async () => {
    const baseline = await cni.snapshot();
    const ids = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'];
    const spaces = await Promise.all(ids.map(container));
    const added = await Promise.all(ids.map((id, i) => add(id, spaces[i] as string)));
    for (const result of added) expect([result.exitCode, result.stderr], result.stdout).toEqual([0, '']);
    const addresses = added.map((r) => (JSON.parse(r.stdout) as Result).ips[0]?.address);
    expect(new Set(addresses).size).toBe(6);
    const deleted = await Promise.all(ids.map((id, i) => del(id, spaces[i] as string)));
    for (const result of deleted) expect([result.exitCode, result.stdout]).toEqual([0, '']);
    for (const id of ids) await cni.host.exec(['ip', 'netns', 'del', id]);
    expect(await cni.snapshot()).toEqual(baseline);
    expect(await cni.allocations(network)).toEqual([]);
  });

  it('a call that cannot have the host within lockTimeoutSeconds says "try again later" (11); one that may wait longer succeeds', async () => {
    // Another runbook process (another state dir) changes this host for 4 seconds.
    const slow = `${cni.dir}/slow.yaml`;
    const text =
      'name: slow\ndescription: holds the host\nsteps:\n  - id: wait\n    title: wait\n    why: hold the lock\n    verify:\n      - { run: [sleep, "4"], timeout: 10 }\n';
    expect((await cni.host.exec(['tee', slow], { input: text })).exitCode).toBe(0);
    const holder = cni.host.startRunbook(['--state-dir', `${cni.dir}/other-state`, 'run', slow]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const netns = await container('w1');
    const before = await cni.snapshot();
    const started = performance.now();
    const impatient = await add('w1', netns, { ...config, lockTimeoutSeconds: 0.5 });
    expect(performance.now() - started).toBeGreaterThan(400);
    expect(impatient.exitCode).toBe(1);
    const error = JSON.parse(impatient.stdout) as { code: number; details: string };
    expect(error.code).toBe(11);
    expect(error.details).toContain('run slow');
    expect(await cni.snapshot()).toEqual(before);
    const patient = await add('w1', netns);
    expect(patient.exitCode, patient.stdout).toBe(0);
    expect((await holder.done).exitCode).toBe(0);
    expect((await del('w1', netns)).exitCode).toBe(0);
  });
});
