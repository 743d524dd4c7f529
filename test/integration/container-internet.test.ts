import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareRunbook } from '../../src/runbook/prepare.js';
import { SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * The container-internet runbook (tutorial part 3: NAT and forwarding on top of part 2) on a
 * real kernel. Everything runs inside SandboxHosts: the `sysctl` and `iptables` changes are the
 * sandbox's own network namespace's, never this machine's. The "internet" is the sandbox's
 * stand-in 198.51.100.1 behind its gateway, always passed explicitly: the runbook's default
 * outside a sandbox host is a real address, which no test may ping.
 */

const set = ['--set', 'count=2', '--set', 'internet_ip=198.51.100.1'];
const pingInternet = ['ip', 'netns', 'exec', 'container1', 'ping', '-c1', '-W1', '198.51.100.1'];

const knownCauses = [
  ...new Set(
    prepareRunbook('container-internet', ['count=2', 'internet_ip=198.51.100.1']).plan.steps.flatMap((s) =>
      s.diagnose.map((p) => p.cause),
    ),
  ),
];

function expectExit(result: ExecResult, code: number): void {
  expect(result.exitCode, `exit code; stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}

/** The output names these causes, and no other cause the runbook knows. */
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

/** `run --json` events: step id → outcome. */
function outcomes(result: ExecResult): Record<string, string> {
  const events = result.stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as { event: string; stepId?: string; outcome?: string });
  return Object.fromEntries(events.filter((e) => e.event === 'step').map((e) => [e.stepId, e.outcome]));
}

async function ipForward(host: SandboxHost): Promise<string> {
  const result = await host.exec(['cat', '/proc/sys/net/ipv4/ip_forward']);
  expect(result.exitCode).toBe(0);
  return result.stdout.trim();
}

/** The nat table's rules (`-S`, not iptables-save, whose packet counters change). */
async function natRules(host: SandboxHost): Promise<string> {
  const result = await host.exec(['iptables', '-t', 'nat', '-S']);
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stdout;
}

async function setIpForward(host: SandboxHost, value: 0 | 1): Promise<void> {
  const result = await host.exec(['sysctl', '-w', `net.ipv4.ip_forward=${value}`]);
  expect(result.exitCode, result.stderr).toBe(0);
}

function tempStateDir(): string {
  return tempDir('runbook-internet-');
}

describe('container-internet on top of a multi-container run (real kernel, sandbox host)', () => {
  let host: SandboxHost;
  let stateDir: string;
  let pristine: Record<string, unknown>;
  /** After multi-container, before container-internet. */
  let partTwo: { snapshot: Record<string, unknown>; nat: string; forward: string };

  beforeAll(async () => {
    host = await SandboxHost.create();
    stateDir = tempStateDir();
    await setIpForward(host, 0); // the sandbox's own ip_forward: like a fresh VM
    pristine = await host.snapshot();
  });
  afterAll(() => {
    host?.dispose();
    if (stateDir !== undefined) removeDir(stateDir);
  });

  const sd = () => ['--state-dir', stateDir];

  it('after part 2 alone (multi-container), container1 cannot reach 198.51.100.1', async () => {
    expectExit(await host.runbook([...sd(), 'run', 'multi-container', '--set', 'count=2']), 0);
    const ping = await host.exec(pingInternet);
    expect(ping.exitCode, ping.stdout).not.toBe(0);
    partTwo = { snapshot: await host.snapshot(), nat: await natRules(host), forward: await ipForward(host) };
    expect(partTwo.forward).toBe('0');
    expect(partTwo.nat).not.toContain('MASQUERADE');
  });

  it('run container-internet exits 0: part 2 already holds, NAT and forwarding are added; container1 reaches 198.51.100.1', async () => {
    const run = await host.runbook([...sd(), 'run', 'container-internet', ...set, '--json']);
    expectExit(run, 0);
    const byStep = outcomes(run);
    expect(Object.keys(byStep)).toHaveLength(3 + 9 * 2 + 2 * 2 + 1 + 3);
    expect(byStep).toMatchObject({
      bridge: 'ok',
      'namespace-2': 'ok',
      'default-route-2': 'ok',
      masquerade: 'changed',
      'ip-forward': 'changed',
      'ping-internet': 'ok',
    });
    expect(
      Object.entries(byStep)
        .filter(([, o]) => o === 'changed')
        .map(([id]) => id),
    ).toEqual(['masquerade', 'ip-forward']);
    expect(await ipForward(host)).toBe('1');
    expect(await natRules(host)).toContain('-A POSTROUTING -s 172.16.0.0/24 -j MASQUERADE');
    const ping = await host.exec(pingInternet);
    expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0);
  });

  /** Breaks one thing, checks that `runbook check` names it (exit 1) and only it, then repairs it. */
  async function diagnose(breakIt: string[], repair: string[][], ...causes: string[]): Promise<void> {
    const broken = await host.exec(breakIt);
    expect(broken.exitCode, broken.stderr).toBe(0);
    try {
      const check = await host.runbook([...sd(), 'check', 'container-internet', ...set]);
      expectExit(check, 1);
      expectOnlyCauses(check, causes);
    } finally {
      for (const argv of repair) {
        const repaired = await host.exec(argv);
        expect(repaired.exitCode, repaired.stderr).toBe(0);
      }
    }
  }

  it('diagnosis: the NAT rule deleted → names the missing NAT rule', async () => {
    const rule = ['POSTROUTING', '-s', '172.16.0.0/24', '-j', 'MASQUERADE'];
    await diagnose(
      ['iptables', '-t', 'nat', '-D', ...rule],
      [['iptables', '-t', 'nat', '-A', ...rule]],
      'the NAT rule is missing: packets from 172.16.0.0/24 leave with a source address nobody outside can answer',
    );
  });

  it('diagnosis: forwarding turned off → names forwarding off', async () => {
    await diagnose(
      ['sysctl', '-w', 'net.ipv4.ip_forward=0'],
      [['sysctl', '-w', 'net.ipv4.ip_forward=1']],
      "IPv4 forwarding is off on the host (net.ipv4.ip_forward=0): it drops the containers' packets instead of routing them out",
    );
  });

  // The kernel drops container1's default route with ceth1: the internet probes used to blame
  // the missing route ("container1 has no default route, so it cannot reach …") instead.
  it('diagnosis: the NAT rule deleted and forwarding off → both named in one pass, each step with its own cause', async () => {
    const rule = ['POSTROUTING', '-s', '172.16.0.0/24', '-j', 'MASQUERADE'];
    const nat =
      'the NAT rule is missing: packets from 172.16.0.0/24 leave with a source address nobody outside can answer';
    const forwarding =
      "IPv4 forwarding is off on the host (net.ipv4.ip_forward=0): it drops the containers' packets instead of routing them out";
    expectExit(await host.exec(['iptables', '-t', 'nat', '-D', ...rule]), 0);
    expectExit(await host.exec(['sysctl', '-w', 'net.ipv4.ip_forward=0']), 0);
    try {
      const check = await host.runbook([...sd(), 'check', 'container-internet', ...set, '--json']);
      expectExit(check, 1);
      const record = JSON.parse(check.stdout) as {
        causes: string[];
        steps: Array<{ step: string; ok: boolean; findings: Array<{ cause: string }> }>;
      };
      const causesOf = (id: string) => record.steps.find((s) => s.step === id)?.findings.map((f) => f.cause);
      expect(record.steps.filter((s) => !s.ok).map((s) => s.step)).toEqual([
        'masquerade',
        'ip-forward',
        'ping-internet',
      ]);
      expect(causesOf('masquerade')).toEqual([nat]);
      expect(causesOf('ip-forward')).toEqual([forwarding]);
      expect(causesOf('ping-internet')).toEqual([nat, forwarding]);
      expect(record.causes).toEqual([nat, forwarding]);
    } finally {
      expectExit(await host.exec(['iptables', '-t', 'nat', '-A', ...rule]), 0);
      expectExit(await host.exec(['sysctl', '-w', 'net.ipv4.ip_forward=1']), 0);
    }
  });

  // Bringing ceth1 up again does not bring back the routes the kernel removed when it went down:
  // the default route is a fault of its own, named in the same pass (issue 26).
  it('diagnosis: ceth1 down in container1 → names ceth1 down, and the default route it took with it', async () => {
    await diagnose(
      ['ip', '-n', 'container1', 'link', 'set', 'ceth1', 'down'],
      [
        ['ip', '-n', 'container1', 'link', 'set', 'ceth1', 'up'],
        ['ip', '-n', 'container1', 'route', 'replace', 'default', 'via', '172.16.0.1', 'dev', 'ceth1'],
      ],
      'ceth1 in container1 is down',
      'container1 has no default route: it cannot reach 10.0.0.10',
      'container1 has no default route, so it cannot reach 198.51.100.1',
    );
  });

  it('rollback undoes only what container-internet changed: ip_forward, the nat table and the snapshot are back to part 2', async () => {
    const rollback = await host.runbook([...sd(), 'rollback']);
    expectExit(rollback, 0);
    expect(await ipForward(host)).toBe(partTwo.forward);
    expect(await natRules(host)).toBe(partTwo.nat);
    expect(await host.snapshot()).toEqual(partTwo.snapshot);
    const ping = await host.exec(pingInternet);
    expect(ping.exitCode).not.toBe(0);
  });

  it('a second rollback undoes the multi-container run: the sandbox is exactly as it started', async () => {
    expectExit(await host.runbook([...sd(), 'rollback']), 0);
    expect(await host.snapshot()).toEqual(pristine);
    expect(await ipForward(host)).toBe('0');
  });
});

describe('container-internet with ip_forward already 1 (real kernel, sandbox host)', () => {
  let host: SandboxHost;
  let stateDir: string;

  beforeAll(async () => {
    host = await SandboxHost.create();
    stateDir = tempStateDir();
  });
  afterAll(() => {
    host?.dispose();
    if (stateDir !== undefined) removeDir(stateDir);
  });

  it('the ip-forward step is ok (nothing done), and rollback leaves ip_forward at 1 and the rest as before', async () => {
    await setIpForward(host, 1);
    const before = await host.snapshot();
    const nat = await natRules(host);

    const run = await host.runbook(['--state-dir', stateDir, 'run', 'container-internet', ...set, '--json']);
    expectExit(run, 0);
    expect(outcomes(run)).toMatchObject({
      bridge: 'changed',
      masquerade: 'changed',
      'ip-forward': 'ok',
      'ping-internet': 'ok',
    });
    const ping = await host.exec(pingInternet);
    expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0);

    const rollback = await host.runbook(['--state-dir', stateDir, 'rollback']);
    expectExit(rollback, 0);
    expect(await ipForward(host)).toBe('1');
    expect(await natRules(host)).toBe(nat);
    expect(await host.snapshot()).toEqual(before);
  });
});
