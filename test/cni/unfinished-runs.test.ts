import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CniHost } from '../helpers/cni-host.js';

/**
 * What a killed ADD leaves of the network's run, and whose things a refused DEL names: the
 * plugin called directly, as in protocol.test.ts, on a sandbox host of its own (the first ADD
 * here must find no bridge, as on a fresh host).
 */

const network = 'unfinished';
const subnet = '10.78.0.0/24';

let cni: CniHost;
let config: Record<string, unknown>;

beforeAll(async () => {
  cni = await CniHost.create();
  config = { cniVersion: '1.0.0', name: network, ...cni.runbookPlugin(subnet) };
});
afterAll(() => cni?.dispose());

async function container(name: string): Promise<string> {
  expect((await cni.host.exec(['ip', 'netns', 'add', name])).exitCode).toBe(0);
  return `/run/netns/${name}`;
}

const add = (id: string, netns: string, env: Record<string, string> = {}) =>
  cni.call('runbook-cni', 'ADD', { containerId: id, netns, config, env });
const del = (id: string, netns: string) => cni.call('runbook-cni', 'DEL', { containerId: id, netns, config });

interface RunRow {
  id: string;
  runbook: string;
  status: string;
}

/** The runs of `runbook` in the network's state dir, oldest first, but those of earlier tests (`earlier`). */
async function runsOf(
  runbook: string,
  earlier: readonly string[] = [],
): Promise<Array<{ id: string; status: string }>> {
  const listed = await cni.runbook(network, ['runs', '--json']);
  expect(listed.exitCode, listed.stderr).toBe(0);
  return (JSON.parse(listed.stdout) as RunRow[])
    .filter((run) => run.runbook === runbook && !earlier.includes(run.id))
    .map(({ id, status }) => ({ id, status }));
}

describe('an unfinished network run', () => {
  it('is finished by the next ADD, keeping the bridge it made, so that rolling that run back takes the bridge away', async () => {
    const baseline = await cni.snapshot();
    const netns = await container('u1');
    // Killed in the network runbook, the bridge made and journaled, nothing after it.
    const killed = await add('u1', netns, { RUNBOOK_FAULT_KILL: 'after:step-end:bridge' });
    expect(killed.exitCode).not.toBe(0);
    const [interrupted, ...others] = await runsOf('cni-bridge-network');
    expect([interrupted?.status, others]).toEqual(['interrupted', []]);
    // The runtime's cleanup: the container's part, and the address.
    expect((await del('u1', netns)).exitCode).toBe(0);
    expect(await cni.allocations(network)).toEqual([]);

    const added = await add('u1', netns);
    expect([added.exitCode, added.stderr], added.stdout).toEqual([0, '']);
    // The same run, resumed: no second run that found the bridge in place and so never owns it.
    expect(await runsOf('cni-bridge-network')).toEqual([{ id: interrupted?.id, status: 'succeeded' }]);

    expect((await del('u1', netns)).exitCode).toBe(0);
    const rolledBack = await cni.runbook(network, ['rollback', interrupted?.id ?? '?']);
    expect(rolledBack.exitCode, rolledBack.stderr).toBe(0);
    expect((await cni.host.exec(['ip', 'netns', 'del', 'u1'])).exitCode).toBe(0);
    expect(await cni.host.exec(['ip', 'link', 'show', 'dev', 'rbcni0'])).toMatchObject({ exitCode: 1 });
    expect(await cni.snapshot()).toEqual(baseline);
  });

  it('interrupted with values no longer asked for is rolled back by the next ADD, which makes the network anew', async () => {
    const baseline = await cni.snapshot();
    const earlier = (await runsOf('cni-bridge-network')).map((run) => run.id);
    const netns = await container('u2');
    const killed = await add('u2', netns, { RUNBOOK_FAULT_KILL: 'after:step-end:bridge' });
    expect(killed.exitCode).not.toBe(0);
    const [interrupted] = await runsOf('cni-bridge-network', earlier);
    expect(interrupted?.status).toBe('interrupted');
    expect((await del('u2', netns)).exitCode).toBe(0);

    // Another subnet now: the interrupted run's values are not these.
    const other = { ...config, ipam: cni.ipam('10.79.0.0/24') };
    const added = await cni.call('runbook-cni', 'ADD', { containerId: 'u2', netns, config: other });
    expect(added.exitCode, added.stdout).toBe(0);
    const runs = await runsOf('cni-bridge-network', earlier);
    expect(runs).toEqual([
      { id: interrupted?.id, status: 'rolled-back' },
      { id: expect.not.stringMatching(`^${interrupted?.id}$`), status: 'succeeded' },
    ]);
    expect((await cni.call('runbook-cni', 'DEL', { containerId: 'u2', netns, config: other })).exitCode).toBe(0);
    // The new run made the bridge (the rolled-back one had taken its own away): its rollback removes it.
    expect((await cni.runbook(network, ['rollback', runs[1]?.id ?? '?'])).exitCode).toBe(0);
    expect((await cni.host.exec(['ip', 'netns', 'del', 'u2'])).exitCode).toBe(0);
    expect(await cni.snapshot()).toEqual(baseline);
  });
});

describe('an ADD stopped by SIGTERM in the network runbook', () => {
  it('says the next ADD finishes the network run, and the next ADD does, keeping what it made', async () => {
    const baseline = await cni.snapshot();
    // The shipped network runbook with a step after the bridge that says when it runs, and lasts a while.
    const shipped = readFileSync(new URL('../../runbooks/cni-bridge-network.yaml', import.meta.url), 'utf8');
    const marker = `${cni.dir}/network-paused`;
    const pause = [
      '  - id: pause',
      '    title: pause',
      '    why: the test interrupts the run here',
      '    do:',
      `      - [bash, -c, "touch ${marker} && sleep 2"]`,
      '    verify:',
      `      - run: [test, -e, ${marker}]`,
      '    undo:',
      `      - [rm, -f, ${marker}]`,
      '',
    ].join('\n');
    const text = shipped.replace('  - id: bridge-up\n', `${pause}  - id: bridge-up\n`);
    expect(text).not.toBe(shipped);
    const file = `${cni.dir}/paused-network.yaml`;
    expect((await cni.host.exec(['tee', file], { input: text })).exitCode).toBe(0);
    const paused = { ...config, networkRunbook: file };
    const earlier = (await runsOf('cni-bridge-network')).map((run) => run.id);

    const netns = await container('s1');
    const call = (command: 'ADD' | 'DEL') =>
      cni.call('runbook-cni', command, { containerId: 's1', netns, config: paused });
    const adding = cni.host.start([`${cni.dir}/bin/runbook-cni`], {
      input: JSON.stringify(paused),
      env: {
        PATH: process.env.PATH ?? '',
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: 's1',
        CNI_NETNS: netns,
        CNI_IFNAME: 'eth0',
        CNI_PATH: cni.cniPath,
      },
    });
    let ended = false;
    void adding.done.then(() => (ended = true));
    while (!ended && (await cni.host.exec(['test', '-e', marker])).exitCode !== 0)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const endedEarly = ended;
    if (!endedEarly) process.kill(adding.pid, 'SIGTERM');
    const stopped = await adding.done;
    expect(endedEarly ? stopped.stdout : 'stopped in the pause step').toBe('stopped in the pause step');
    expect(stopped.exitCode, stopped.stderr).toBe(1);
    const error = JSON.parse(stopped.stdout) as { code: number; msg: string };
    const [interrupted] = await runsOf('cni-bridge-network', earlier);
    expect(interrupted?.status).toBe('interrupted');
    expect(error).toMatchObject({
      code: 11,
      msg: `runbook cni-bridge-network was interrupted (run ${interrupted?.id}); the next ADD finishes it`,
    });
    expect((await call('DEL')).exitCode).toBe(0);

    const added = await call('ADD');
    expect(added.exitCode, added.stdout).toBe(0);
    expect(await runsOf('cni-bridge-network', earlier)).toEqual([{ id: interrupted?.id, status: 'succeeded' }]);
    expect((await call('DEL')).exitCode).toBe(0);
    expect((await cni.runbook(network, ['rollback', interrupted?.id ?? '?'])).exitCode).toBe(0);
    expect((await cni.host.exec(['ip', 'netns', 'del', 's1'])).exitCode).toBe(0);
    expect(await cni.host.exec(['test', '-e', marker])).toMatchObject({ exitCode: 1 });
    expect(await cni.snapshot()).toEqual(baseline);
  });
});

describe('a refused DEL', () => {
  it("names the run of the network's state dir that made what the container's interface holds", async () => {
    const netns = await container('o1');
    expect((await add('o1', netns)).exitCode).toBe(0);
    // Another run of the same state dir puts an address on the container's end of the pair.
    const file = `${cni.dir}/extra-address.yaml`;
    const text = [
      'name: extra-address',
      'description: an address of another run on the container end',
      'steps:',
      '  - id: extra',
      '    title: extra address',
      '    why: a thing of another run',
      '    do:',
      `      - [nsenter, "--net=${netns}", ip, addr, add, 10.99.0.7/32, dev, eth0]`,
      '    verify:',
      `      - run: [nsenter, "--net=${netns}", ip, -o, addr, show, dev, eth0, to, 10.99.0.7/32]`,
      '        expect: { output_matches: "10\\\\.99\\\\.0\\\\.7" }',
      '    undo:',
      `      - [nsenter, "--net=${netns}", ip, addr, del, 10.99.0.7/32, dev, eth0]`,
      '',
    ].join('\n');
    expect((await cni.host.exec(['tee', file], { input: text })).exitCode).toBe(0);
    const extra = await cni.runbook(network, ['run', file]);
    expect(extra.exitCode, extra.stderr).toBe(0);
    const [extraRun] = await runsOf('extra-address');

    const refused = await del('o1', netns);
    expect(refused.exitCode).toBe(1);
    const error = JSON.parse(refused.stdout) as { msg: string; details?: string };
    const said = `${error.msg}\n${error.details ?? ''}`;
    expect(said).toContain(`10.99.0.7/32`);
    expect(said).toContain(`made by run ${extraRun?.id} of this state dir: extra-address, succeeded`);
    expect(said).not.toContain('made by no run this host knows of');

    expect((await cni.runbook(network, ['rollback', extraRun?.id ?? '?'])).exitCode).toBe(0);
    expect((await del('o1', netns)).exitCode).toBe(0);
    expect((await cni.host.exec(['ip', 'netns', 'del', 'o1'])).exitCode).toBe(0);
  });
});
