import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareRunbook } from '../../src/runbook/prepare.js';
import { SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * The multi-container runbook (tutorial part 2: N containers on a bridge) on a real kernel.
 * Every CLI run, `ip`, `ping` and breakage happens inside one SandboxHost (a throwaway network
 * + mount namespace set up like the tutorial's VM); nothing touches this machine's network, and
 * packets only go to sandbox addresses. The tests share the sandbox and run in order: run,
 * look, ping, re-run, break-and-diagnose (each breakage repaired), roll back. The final
 * snapshot comparison also proves that every repair put the kernel back exactly.
 */

const count = 3;
const set = ['--set', `count=${count}`];
const containers = [1, 2, 3];

/** Every cause any probe of the runbook can name, to check that a diagnosis names one only. */
const knownCauses = [
  ...new Set(
    prepareRunbook('multi-container', [`count=${count}`]).plan.steps.flatMap((s) => s.diagnose.map((p) => p.cause)),
  ),
];

function expectExit(result: ExecResult, code: number): void {
  expect(result.exitCode, `exit code; stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}

/** Asserts the output names these causes, and no other cause the runbook's probes know. */
function expectOnlyCauses(result: ExecResult, causes: readonly string[]): void {
  const output = `${result.stdout}\n${result.stderr}`;
  for (const cause of causes) {
    expect(knownCauses).toContain(cause);
    expect(output).toContain(cause);
  }
  expect(
    knownCauses.filter((c) => !causes.includes(c) && output.includes(c)),
    output,
  ).toEqual([]);
}

interface Link {
  ifname: string;
  flags: string[];
  master?: string;
  linkinfo?: { info_kind?: string };
}

describe('runbook run multi-container --set count=3 (real kernel, sandbox host)', () => {
  let host: SandboxHost;
  let stateDir: string;
  let before: Record<string, unknown>;
  let run: ExecResult;

  beforeAll(async () => {
    host = await SandboxHost.create();
    stateDir = tempDir('runbook-multi-');
    before = await host.snapshot();
    run = await host.runbook(['--state-dir', stateDir, 'run', 'multi-container', ...set]);
  });
  afterAll(() => {
    host?.dispose();
    if (stateDir !== undefined) removeDir(stateDir);
  });

  const sd = () => ['--state-dir', stateDir];

  it('exits 0, every one of the 38 steps changed or verified', () => {
    expectExit(run, 0);
    expect(run.stdout).toContain('run multi-container (38 steps)');
    expect(run.stdout).toMatch(/^run \S+ succeeded: 30 step\(s\) changed$/m);
    for (const id of [
      'bridge',
      'bridge-up',
      'bridge-address',
      'namespace-3',
      'default-route-3',
      'ping-from-host-2',
      'ping-host-from-3',
      'ping-from-container1-3',
    ]) {
      expect(run.stdout).toMatch(new RegExp(`^ {2}(changed|ok) +${id} `, 'm'));
    }
  });

  it('the kernel holds the bridge br0, up, with 172.16.0.1/24, and veth1..3 attached to it', async () => {
    const br0 = ((await host.ipJson(['-d', 'link', 'show', 'br0'])) as Link[])[0];
    expect(br0?.linkinfo?.info_kind).toBe('bridge');
    expect(br0?.flags).toContain('UP');
    const addrs = (await host.ipJson(['-4', 'addr', 'show', 'dev', 'br0'])) as Array<{
      addr_info: Array<{ local: string; prefixlen: number }>;
    }>;
    expect(addrs[0]?.addr_info.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(['172.16.0.1/24']);
    for (const n of containers) {
      const veth = ((await host.ipJson(['-d', 'link', 'show', `veth${n}`])) as Link[])[0];
      expect(veth?.linkinfo?.info_kind).toBe('veth');
      expect(veth?.master).toBe('br0');
      expect(veth?.flags).toEqual(expect.arrayContaining(['UP', 'LOWER_UP']));
    }
    const namespaces = ((await host.ipJson(['netns', 'list'])) as Array<{ name: string }>).map((n) => n.name).sort();
    expect(namespaces).toEqual(['container1', 'container2', 'container3', 'lan']);
  });

  it('each containerN has cethN with 172.16.0.(N+1)/24, lo up, and a default route via 172.16.0.1', async () => {
    for (const n of containers) {
      const ns = `container${n}`;
      const links = ((await host.ipJson(['-n', ns, 'link', 'show'])) as Link[]).sort((a, b) =>
        a.ifname.localeCompare(b.ifname),
      );
      expect(links.map((l) => l.ifname)).toEqual([`ceth${n}`, 'lo']);
      for (const link of links) expect(link.flags, `${ns} ${link.ifname}`).toContain('UP');
      const addrs = (await host.ipJson(['-n', ns, '-4', 'addr', 'show'])) as Array<{
        ifname: string;
        addr_info: Array<{ local: string; prefixlen: number }>;
      }>;
      expect(addrs.flatMap((a) => a.addr_info.map((i) => `${a.ifname} ${i.local}/${i.prefixlen}`)).sort()).toEqual([
        `ceth${n} 172.16.0.${n + 1}/24`,
        'lo 127.0.0.1/8',
      ]);
      const routes = (await host.ipJson(['-n', ns, '-4', 'route', 'show'])) as Array<{
        dst: string;
        gateway?: string;
        dev: string;
      }>;
      expect(routes.map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`).sort()).toEqual([
        `172.16.0.0/24 dev ceth${n}`,
        `default via 172.16.0.1 dev ceth${n}`,
      ]);
    }
  });

  it('container1 pings container3, the host pings container2, container3 pings 10.0.0.10', async () => {
    for (const argv of [
      ['ip', 'netns', 'exec', 'container1', 'ping', '-c1', '-W1', '172.16.0.4'],
      ['ping', '-c1', '-W1', '172.16.0.3'],
      ['ip', 'netns', 'exec', 'container3', 'ping', '-c1', '-W1', '10.0.0.10'],
    ]) {
      const ping = await host.exec(argv);
      expect(ping.exitCode, `${argv.join(' ')}\n${ping.stdout}${ping.stderr}`).toBe(0);
    }
  });

  it('a second run changes nothing: every step already holds', async () => {
    const again = await host.runbook([...sd(), 'run', 'multi-container', ...set]);
    expectExit(again, 0);
    expect(again.stdout).toMatch(/succeeded: nothing to change, every step already holds/);
    expect(again.stdout).not.toMatch(/^ {2}changed /m);
  });

  /** Breaks one thing, checks that `runbook check` names it (exit 1) and only it, then repairs it. */
  async function diagnose(breakIt: string[], repair: string[], cause: string): Promise<void> {
    await diagnoseAll([breakIt], [repair], [cause]);
  }

  /** Breaks things, checks that `runbook check` names exactly these causes (exit 1), then repairs them. */
  async function diagnoseAll(breakIt: string[][], repair: string[][], causes: string[]): Promise<string> {
    for (const argv of breakIt) {
      const broken = await host.exec(argv);
      expect(broken.exitCode, broken.stderr).toBe(0);
    }
    try {
      const check = await host.runbook([...sd(), 'check', 'multi-container', ...set]);
      expectExit(check, 1);
      expectOnlyCauses(check, causes);
      return check.stdout;
    } finally {
      for (const argv of repair) {
        const repaired = await host.exec(argv);
        expect(repaired.exitCode, repaired.stderr).toBe(0);
      }
    }
  }

  // Two faults at once, one of which took a third with it (the kernel removes the routes through
  // a link that goes down): all three are named in one pass, each step given its own (issue 26).
  it('diagnosis: ceth2 down and veth1 off the bridge → both, and the default route ceth2 took with it', async () => {
    const stdout = await diagnoseAll(
      [
        ['ip', '-n', 'container2', 'link', 'set', 'ceth2', 'down'],
        ['ip', 'link', 'set', 'veth1', 'nomaster'],
      ],
      [
        ['ip', '-n', 'container2', 'link', 'set', 'ceth2', 'up'],
        ['ip', '-n', 'container2', 'route', 'add', 'default', 'via', '172.16.0.1', 'dev', 'ceth2'],
        ['ip', 'link', 'set', 'veth1', 'master', 'br0'],
      ],
      [
        'veth1 is not attached to the bridge br0',
        'ceth2 in container2 is down',
        'container2 has no default route: it cannot reach 10.0.0.10',
      ],
    );
    const block = (id: string) => new RegExp(`not ok +${id} .*\\n(?: {13}.*\\n)*`).exec(stdout)?.[0] ?? '';
    expect(block('attach-to-bridge-1')).toContain('cause:    veth1 is not attached to the bridge br0');
    expect(block('container-end-up-2')).toContain('cause:    ceth2 in container2 is down');
    expect(block('container-end-up-2')).not.toContain('veth1');
    expect(block('default-route-2')).toMatch(/cause: +container2 has no default route/);
  });

  it('diagnosis: the bridge down → "the bridge br0 is down"', async () => {
    await diagnose(['ip', 'link', 'set', 'br0', 'down'], ['ip', 'link', 'set', 'br0', 'up'], 'the bridge br0 is down');
  });

  it('diagnosis: veth2 taken off the bridge → "veth2 is not attached to the bridge br0"', async () => {
    await diagnose(
      ['ip', 'link', 'set', 'veth2', 'nomaster'],
      ['ip', 'link', 'set', 'veth2', 'master', 'br0'],
      'veth2 is not attached to the bridge br0',
    );
  });

  it('diagnosis: no default route in container2 → "container2 has no default route"', async () => {
    await diagnose(
      ['ip', '-n', 'container2', 'route', 'del', 'default'],
      ['ip', '-n', 'container2', 'route', 'add', 'default', 'via', '172.16.0.1', 'dev', 'ceth2'],
      'container2 has no default route: it cannot reach 10.0.0.10',
    );
  });

  // Before this probe existed, lo down matched no probe at all.
  it('diagnosis: lo down in container2 → "lo in container2 is down"', async () => {
    await diagnose(
      ['ip', '-n', 'container2', 'link', 'set', 'lo', 'down'],
      ['ip', '-n', 'container2', 'link', 'set', 'lo', 'up'],
      'lo in container2 is down',
    );
  });

  it('rollback undoes the first run (the re-run changed nothing): the sandbox is exactly as before', async () => {
    const rollback = await host.runbook([...sd(), 'rollback']);
    expectExit(rollback, 0);
    expect(await host.snapshot()).toEqual(before);
    // Nothing is left to undo.
    const again = await host.runbook([...sd(), 'rollback']);
    expectExit(again, 0);
    expect(again.stdout + again.stderr).toContain('nothing to roll back');
  });
});
