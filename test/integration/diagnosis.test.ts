import { chownSync, existsSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditFile, lockFile } from '../../src/journal/paths.js';
import { listRunIndexes } from '../../src/journal/run-index.js';
import { SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { tempDirsRemovedAfterAll } from '../helpers/temp-dir.js';

/**
 * `runbook check` and the diagnoses on a real kernel. After a successful `run single-container`
 * the setup is broken in one way at a time; `check` must exit 1 and name exactly the causes
 * that breaking left (with the real object: veth1, container1, 172.16.0.2/24, …; a link taken
 * down takes its routes with it, so both are named), change nothing, and record itself in
 * audit.ndjson; then `run` repairs it and `check` exits 0. Broken in two ways at once, `check`
 * names every fault in one pass, each step with its own cause, and the fixes it prints, applied
 * in its order, repair it all (issue 26).
 *
 * Every CLI run, `ip`, `ping` and sysctl happens inside a SandboxHost (a throwaway network +
 * mount namespace set up like the tutorial's VM): nothing here touches this machine's network.
 */

const tempDir = tempDirsRemovedAfterAll('runbook-check-');

/** Every cause single-container's probes can name, with its default parameters. */
const cause = {
  namespace: 'the namespace container1 does not exist',
  hostVeth: 'veth1, the host end of the veth pair, does not exist',
  containerVeth: 'ceth1, the container end of the veth pair, is not in container1',
  hostVethDown: 'veth1 is down',
  containerVethDown: 'ceth1 in container1 is down',
  address: '172.16.0.2/24 is not assigned to ceth1 in container1',
  hostRoute: 'the host has no route to the container subnet 172.16.0.0/24 through veth1',
  routeBack: 'the container container1 has no route back to the host 10.0.0.10',
  arpAll:
    "the host ignores ARP requests for addresses of other interfaces (net.ipv4.conf.all.arp_ignore >= 1), so the container's 'default via its own address' route cannot reach 10.0.0.10",
  arpHostVeth:
    "the host ignores ARP requests on veth1 for 10.0.0.10 (net.ipv4.conf.veth1.arp_ignore >= 1), so the container's 'default via its own address' route cannot reach 10.0.0.10",
} as const;

/**
 * A failing ping check waits out its whole deadline (ping -w): 1 s instead of the runbook's
 * 2 s keeps these tests short. A ping that works returns at once, so passing checks are as sure.
 */
const quickPings = ['--set', 'ping_deadline=1'];

function expectExit(result: ExecResult, code: number): void {
  expect(result.exitCode, `exit code; stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}

/**
 * The `cause:` lines of `check`'s text output (per step and in the summary, numbered or not),
 * without the reference to where a cause already shown was printed in full.
 */
function causeLines(stdout: string): string[] {
  return [...stdout.matchAll(/^ +(?:\d+\. )?cause: +(.*)$/gm)].map((m) =>
    m[1]!.replace(/ \(evidence and fix: under \S+ above\)$/, '').trim(),
  );
}

/** Steps `check` reported `not ok`. */
function notOk(stdout: string): string[] {
  return [...stdout.matchAll(/^ {2}not ok +(\S+)/gm)].map((m) => m[1]!);
}

interface AuditLine {
  type: string;
  status: string;
  runbook: string;
  runbookHash: string;
  params: Record<string, string>;
  causes: string[];
  summary: { steps: number; checked: number; holding: number; failing: number };
  steps: Array<{
    step: string;
    ok: boolean;
    findings: Array<{ cause: string; evidence?: string; fix?: string; argv: string[] }>;
  }>;
  host: { netns: string };
  user: { uid: number };
}
function audit(stateDir: string): AuditLine[] {
  const file = auditFile(stateDir);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditLine);
}

interface Breakage {
  name: string;
  /** Commands run inside the sandbox host to break the setup. */
  breakIt: string[][];
  /** The first step that no longer holds. */
  firstFailing: string;
  /** Every cause check names, in the order of its summary (the order to apply the fixes). */
  expected: string[];
  /** The first cause's fix, as shown in that step's fix line. */
  fix: string;
  /** `run` cannot repair this one: the run must fail with the same diagnosis. */
  runCannotRepair?: { restore: string[][] };
  /** Wait for the kernel to finish (namespace teardown is asynchronous). */
  settle?: string[];
}

const breakages: Breakage[] = [
  {
    name: "delete the container's default route",
    breakIt: [['ip', '-n', 'container1', 'route', 'del', 'default']],
    firstFailing: 'container-default-route',
    expected: [cause.routeBack],
    fix: 'ip -n container1 route add default via 172.16.0.2 dev ceth1',
  },
  {
    name: 'set veth1 down',
    breakIt: [['ip', 'link', 'set', 'veth1', 'down']],
    firstFailing: 'host-end-up',
    // The kernel removes the routes through a link that goes down: the host route is gone too.
    expected: [cause.hostVethDown, cause.hostRoute],
    fix: 'ip link set dev veth1 up',
  },
  {
    name: 'set ceth1 down inside container1',
    breakIt: [['ip', '-n', 'container1', 'link', 'set', 'ceth1', 'down']],
    firstFailing: 'container-end-up',
    // Every route in container1 went with ceth1, the route back included.
    expected: [cause.containerVethDown, cause.routeBack],
    fix: 'ip -n container1 link set dev ceth1 up',
  },
  {
    name: 'delete the host route to 172.16.0.0/24',
    breakIt: [['ip', 'route', 'del', '172.16.0.0/24', 'dev', 'veth1']],
    firstFailing: 'host-route',
    expected: [cause.hostRoute],
    fix: 'ip route add 172.16.0.0/24 dev veth1',
  },
  {
    name: "delete the container's address",
    breakIt: [['ip', '-n', 'container1', 'addr', 'del', '172.16.0.2/24', 'dev', 'ceth1']],
    firstFailing: 'container-address',
    // The default route via 172.16.0.2 went with the address.
    expected: [cause.address, cause.routeBack],
    fix: 'ip -n container1 addr add 172.16.0.2/24 dev ceth1',
  },
  {
    name: 'delete the namespace',
    breakIt: [['ip', 'netns', 'del', 'container1']],
    settle: ['ip', 'link', 'show', 'veth1'],
    firstFailing: 'namespace',
    expected: [cause.namespace],
    fix: 'ip netns add container1',
  },
  {
    name: 'delete the veth pair',
    breakIt: [['ip', 'link', 'del', 'veth1']],
    firstFailing: 'veth-pair',
    expected: [cause.hostVeth],
    fix: 'runbook run single-container',
  },
  {
    name: 'make the host ignore ARP on veth1 (arp_ignore=1)',
    // Sysctls under net.ipv4.conf are per network namespace: this is the sandbox's veth1.
    breakIt: [['sysctl', '-w', 'net.ipv4.conf.veth1.arp_ignore=1']],
    firstFailing: 'ping-container-from-host',
    expected: [cause.arpHostVeth],
    fix: 'sysctl -w net.ipv4.conf.veth1.arp_ignore=0',
    runCannotRepair: { restore: [['sysctl', '-w', 'net.ipv4.conf.veth1.arp_ignore=0']] },
  },
];

describe('runbook check single-container: each breakage is diagnosed, and run repairs it', () => {
  let host: SandboxHost;
  let stateDir: string;
  beforeEach(async () => {
    host = await SandboxHost.create();
    stateDir = tempDir();
    expectExit(await host.runbook(['--state-dir', stateDir, 'run', 'single-container', ...quickPings]), 0);
  });
  afterEach(() => host?.dispose());

  it.each(breakages)('$name → check names it, run repairs it', async (b) => {
    const check = () => host.runbook(['--state-dir', stateDir, 'check', 'single-container', ...quickPings]);

    for (const argv of b.breakIt) expectExit(await host.exec(argv), 0);
    if (b.settle !== undefined) {
      for (let i = 0; i < 50 && (await host.exec(b.settle)).exitCode === 0; i++)
        await new Promise((r) => setTimeout(r, 100));
    }

    // check: exit 1, the first failing step, exactly these causes (and no other), nothing changed.
    const kernelBefore = await host.snapshot();
    const runsBefore = listRunIndexes(stateDir).length;
    const broken = await check();
    expectExit(broken, 1);
    expect(await host.snapshot()).toEqual(kernelBefore);
    expect(listRunIndexes(stateDir)).toHaveLength(runsBefore);
    expect(existsSync(lockFile(stateDir))).toBe(false);

    const failing = notOk(broken.stdout);
    expect(failing[0]).toBe(b.firstFailing);
    expect(new Set(causeLines(broken.stdout))).toEqual(new Set(b.expected));
    for (const other of Object.values(cause))
      if (!b.expected.includes(other)) expect(broken.stdout).not.toContain(other);
    expect(broken.stdout).toContain(`fix:      ${b.fix}`);
    expect(broken.stdout).toMatch(new RegExp(`^not ok: ${failing.length} of 10 steps do not hold`, 'm'));

    // The audit line records the same verdict.
    const record = audit(stateDir).at(-1)!;
    expect(record).toMatchObject({
      type: 'check',
      runbook: 'single-container',
      status: 'not-ok',
      causes: b.expected,
    });
    expect(record.summary).toMatchObject({ steps: 10, checked: 10, failing: failing.length });
    expect(record.steps.filter((s) => !s.ok).map((s) => s.step)).toEqual(failing);

    if (b.runCannotRepair !== undefined) {
      // run cannot undo a host setting it did not make: it fails with the same diagnosis.
      const run = await host.runbook(['--state-dir', stateDir, 'run', 'single-container', ...quickPings]);
      expectExit(run, 1);
      expect(run.stderr).toContain(`step ${b.firstFailing} failed`);
      expect(run.stderr).toContain(`cause:    ${b.expected[0]}`);
      for (const argv of b.runCannotRepair.restore) expectExit(await host.exec(argv), 0);
    } else {
      // The check's failed ping to 172.16.0.2 can leave the host's ARP entry for it INCOMPLETE
      // (retried once a second): a ping right after the repair then waits up to 1 s for that
      // retry, as long as `ping -W1` waits. Forget it, as the kernel would 3 s later.
      await host.exec(['ip', 'neigh', 'flush', 'dev', 'veth1']);
      const run = await host.runbook(['--state-dir', stateDir, 'run', 'single-container', ...quickPings]);
      expectExit(run, 0);
      expect(run.stdout).toMatch(new RegExp(`^ {2}changed +${b.firstFailing} `, 'm'));
    }

    const repaired = await check();
    expectExit(repaired, 0);
    expect(notOk(repaired.stdout)).toEqual([]);
    expect(repaired.stdout).toContain('ok: all 10 steps hold');
    expect(audit(stateDir).map((a) => a.status)).toEqual(['not-ok', 'ok']);
  });
});

interface Faults {
  name: string;
  breakIt: string[][];
  /** Each failing step and the causes check gives it, in order. */
  steps: Record<string, string[]>;
  /** The summary's causes, in the order to apply their fixes. */
  causes: string[];
}

const severalFaults: Faults[] = [
  {
    name: 'two faults at once: the host route deleted and ceth1 down',
    breakIt: [
      ['ip', 'route', 'del', '172.16.0.0/24', 'dev', 'veth1'],
      ['ip', '-n', 'container1', 'link', 'set', 'ceth1', 'down'],
    ],
    steps: {
      'container-end-up': [cause.containerVethDown],
      // Its own cause: ceth1 being down has nothing to do with the host's route.
      'host-route': [cause.hostRoute],
      'container-default-route': [cause.containerVethDown, cause.routeBack],
      'ping-container-from-host': [cause.containerVethDown, cause.hostRoute, cause.routeBack],
      'ping-host-from-container': [cause.containerVethDown, cause.hostRoute, cause.routeBack],
    },
    causes: [cause.containerVethDown, cause.hostRoute, cause.routeBack],
  },
  {
    name: 'veth1 down (which takes the host route with it)',
    breakIt: [['ip', 'link', 'set', 'veth1', 'down']],
    steps: {
      'host-end-up': [cause.hostVethDown],
      'host-route': [cause.hostVethDown, cause.hostRoute],
      'ping-container-from-host': [cause.hostVethDown, cause.hostRoute],
      'ping-host-from-container': [cause.hostVethDown, cause.hostRoute],
    },
    causes: [cause.hostVethDown, cause.hostRoute],
  },
  {
    name: "the container's address deleted (which takes its default route with it)",
    breakIt: [['ip', '-n', 'container1', 'addr', 'del', '172.16.0.2/24', 'dev', 'ceth1']],
    steps: {
      'container-address': [cause.address],
      'container-default-route': [cause.address, cause.routeBack],
      'ping-container-from-host': [cause.address, cause.routeBack],
      'ping-host-from-container': [cause.address, cause.routeBack],
    },
    causes: [cause.address, cause.routeBack],
  },
];

describe('runbook check single-container: every fault in one pass, each step with its own cause', () => {
  let host: SandboxHost;
  let stateDir: string;
  beforeEach(async () => {
    host = await SandboxHost.create();
    stateDir = tempDir();
    expectExit(await host.runbook(['--state-dir', stateDir, 'run', 'single-container', ...quickPings]), 0);
  });
  afterEach(() => host?.dispose());

  it.each(severalFaults)(
    '$name → check names every cause; its fixes, applied as printed in its order, repair it all',
    async (f) => {
      const check = () => host.runbook(['--state-dir', stateDir, 'check', 'single-container', ...quickPings]);
      for (const argv of f.breakIt) expectExit(await host.exec(argv), 0);

      const broken = await check();
      expectExit(broken, 1);
      expect(notOk(broken.stdout)).toEqual(Object.keys(f.steps));
      const stepBlock = (id: string) => new RegExp(`not ok +${id} .*\\n(?: {13}.*\\n)*`).exec(broken.stdout)?.[0] ?? '';
      for (const [step, causes] of Object.entries(f.steps)) expect(causeLines(stepBlock(step)), step).toEqual(causes);
      expect(audit(stateDir).at(-1)?.causes).toEqual(f.causes);
      const summary = broken.stdout.slice(broken.stdout.indexOf('\nnot ok: '));
      expect(summary).toContain(`  ${f.causes.length} causes; apply their fixes in this order:`);

      // One pass: every fix printed, applied in that order, and nothing is left to find.
      const fixes = [...summary.matchAll(/^ {5}fix: +(.*)$/gm)].map((m) => m[1]!.split(' '));
      expect(fixes).toHaveLength(f.causes.length);
      for (const fix of fixes) expectExit(await host.exec(fix), 0);
      await host.exec(['ip', 'neigh', 'flush', 'dev', 'veth1']);
      const repaired = await check();
      expectExit(repaired, 0);
      expect(repaired.stdout).toContain('ok: all 10 steps hold');
    },
  );
});

describe("runbook check single-container: the tutorial's failed ping, and the check command itself", () => {
  let host: SandboxHost;
  beforeEach(async () => {
    host = await SandboxHost.create();
  });
  afterEach(() => host?.dispose());

  it('run --until host-route, then check: the ping fails for want of a route back to 10.0.0.10 (tutorial step 9)', async () => {
    const stateDir = tempDir();
    expectExit(await host.runbook(['--state-dir', stateDir, 'run', 'single-container', '--until', 'host-route']), 0);

    const check = await host.runbook(['--state-dir', stateDir, 'check', 'single-container', ...quickPings]);
    expectExit(check, 1);
    expect(notOk(check.stdout)).toEqual([
      'container-default-route',
      'ping-container-from-host',
      'ping-host-from-container',
    ]);
    expect(check.stdout).toMatch(/^ {2}ok +host-route /m);
    expect(new Set(causeLines(check.stdout))).toEqual(new Set([cause.routeBack]));
    // The evidence is the kernel's own answer, as in the tutorial.
    expect(check.stdout).toContain(
      'evidence: ip -n container1 route get 10.0.0.10 → "RTNETLINK answers: Network is unreachable"',
    );
    expect(check.stdout).toMatch(
      /not ok +ping-container-from-host .*\n +check: +ping -c1 -w1 172\.16\.0\.2\n +result: +expected exit status 0, got 1/,
    );

    // run picks up from there; then everything holds.
    expectExit(await host.runbook(['--state-dir', stateDir, 'run', 'single-container']), 0);
    expectExit(await host.runbook(['--state-dir', stateDir, 'check', 'single-container']), 0);
  });

  it('run --until container-address, then check: both missing routes are named, each with its fix, in the order to apply them', async () => {
    const stateDir = tempDir();
    const until = ['--state-dir', stateDir, 'run', 'single-container', '--until', 'container-address'];
    expectExit(await host.runbook(until), 0);
    const check = () => host.runbook(['--state-dir', stateDir, 'check', 'single-container']);

    const first = await check();
    expectExit(first, 1);
    expect(notOk(first.stdout)).toEqual([
      'host-route',
      'container-default-route',
      'ping-container-from-host',
      'ping-host-from-container',
    ]);
    // Each routing step is given its own cause: the route back is not blamed on the host route.
    const stepBlock = (id: string) => new RegExp(`not ok +${id} .*\\n(?: {13}.*\\n)*`).exec(first.stdout)?.[0] ?? '';
    expect(causeLines(stepBlock('host-route'))).toEqual([cause.hostRoute]);
    expect(causeLines(stepBlock('container-default-route'))).toEqual([cause.routeBack]);
    expect(causeLines(stepBlock('ping-host-from-container'))).toEqual([cause.hostRoute, cause.routeBack]);
    // Every block is printed once; later steps refer to it.
    expect(first.stdout.match(/evidence: ip -o route show match 172\.16\.0\.0\/24/g)).toHaveLength(1);
    expect(first.stdout.match(/evidence: ip -n container1 route get 10\.0\.0\.10/g)).toHaveLength(1);
    expect(first.stdout).toContain(
      `cause:    ${cause.routeBack} (evidence and fix: under container-default-route above)`,
    );

    // The summary: both causes, numbered in the order to apply them, each with its fix.
    const summary = first.stdout.slice(first.stdout.indexOf('\nnot ok: 4 of 10'));
    expect(summary).toContain('  2 causes; apply their fixes in this order:');
    expect(summary).toContain(`  1. cause: ${cause.hostRoute}\n     fix:   ip route add 172.16.0.0/24 dev veth1`);
    expect(summary).toContain(
      `  2. cause: ${cause.routeBack}\n     fix:   ip -n container1 route add default via 172.16.0.2 dev ceth1`,
    );
    expect(audit(stateDir).at(-1)?.causes).toEqual([cause.hostRoute, cause.routeBack]);

    // Applying the fixes as printed, in that order, repairs it: the first leaves only the second.
    const fixes = [...summary.matchAll(/^ {5}fix: +(.*)$/gm)].map((m) => m[1]!.split(' '));
    expectExit(await host.exec(fixes[0]!), 0);
    const second = await check();
    expectExit(second, 1);
    expect(new Set(causeLines(second.stdout))).toEqual(new Set([cause.routeBack]));
    expectExit(await host.exec(fixes[1]!), 0);
    await host.exec(['ip', 'neigh', 'flush', 'dev', 'veth1']);
    expectExit(await check(), 0);
  });

  it('on a fresh host: every step is not ok, the cause is the missing namespace; --json prints the audit record', async () => {
    const stateDir = tempDir();
    const result = await host.runbook(['--state-dir', stateDir, 'check', 'single-container', '--json', ...quickPings]);
    expectExit(result, 1);
    const record = JSON.parse(result.stdout) as AuditLine;
    expect(record).toEqual(audit(stateDir)[0]);
    expect(record).toMatchObject({
      type: 'check',
      status: 'not-ok',
      causes: [cause.namespace],
      summary: { steps: 10, holding: 0, failing: 10 },
    });
    expect(record.params).toMatchObject({
      container: 'container1',
      host_veth: 'veth1',
      container_cidr: '172.16.0.2/24',
    });
    expect(record.runbookHash).toMatch(/^[0-9a-f]{64}$/);
    expect(record.user.uid).toBe(0);
    const netns = await host.exec(['readlink', '/proc/self/ns/net']);
    expect(record.host.netns).toBe(netns.stdout.trim());
    expect(record.steps[0]?.findings[0]).toMatchObject({ cause: cause.namespace, argv: ['ip', '-j', 'netns', 'list'] });
    // Nothing was created.
    expect(((await host.ipJson(['netns', 'list'])) as Array<{ name: string }>).map((n) => n.name)).toEqual(['lan']);
    expect(listRunIndexes(stateDir)).toEqual([]);
  });

  it('--set: checks the parameters given (another container name is diagnosed as missing)', async () => {
    const stateDir = tempDir();
    expectExit(await host.runbook(['--state-dir', stateDir, 'run', 'single-container']), 0);
    const other = await host.runbook([
      '--state-dir',
      stateDir,
      'check',
      'single-container',
      '--set',
      'container=web1',
      ...quickPings,
    ]);
    expectExit(other, 1);
    expect(new Set(causeLines(other.stdout))).toEqual(new Set(['the namespace web1 does not exist']));
    expect(audit(stateDir).at(-1)?.params.container).toBe('web1');
  });

  it('invalid input → exit 2 with nothing checked or recorded', async () => {
    const stateDir = tempDir();
    const unknown = await host.runbook(['--state-dir', stateDir, 'check', 'no-such-runbook']);
    expectExit(unknown, 2);
    expect(unknown.stderr).toContain('unknown runbook "no-such-runbook"');
    const badParam = await host.runbook([
      '--state-dir',
      stateDir,
      'check',
      'single-container',
      '--set',
      'container_cidr=not-a-cidr',
    ]);
    expectExit(badParam, 2);
    expect(existsSync(auditFile(stateDir))).toBe(false);
  });

  it('without CAP_NET_ADMIN → exit 2, a clear message, nothing checked', async () => {
    // The user's own state dir: the door lets them in, and check says what it lacks.
    const stateDir = tempDir();
    chownSync(stateDir, 65534, 65534);
    const result = await host.exec(
      [
        'setpriv',
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        '--inh-caps=-all',
        '--bounding-set=-all',
        '--',
        process.execPath,
        await host.cliForAnyone(),
        '--state-dir',
        stateDir,
        'check',
        'single-container',
      ],
      { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } },
    );
    expectExit(result, 2);
    expect(result.stderr).toContain('runbook check single-container');
    expect(result.stderr).toContain('needs root (CAP_NET_ADMIN)');
    // The command typed, --state-dir and all: under sudo, the default state dir would be another.
    expect(result.stderr).toContain(
      `hint: try again as root: sudo runbook --state-dir ${stateDir} check single-container`,
    );
    expect(existsSync(auditFile(stateDir))).toBe(false);
  });

  it('graph prints the statechart without touching the host (exit 0), a bad --format is exit 2', async () => {
    const kernelBefore = await host.snapshot();
    const mermaid = await host.runbook(['graph', 'single-container']);
    expectExit(mermaid, 0);
    expect(mermaid.stdout).toContain('stateDiagram-v2');
    expect(mermaid.stdout).toContain('state "Step" as Step {');
    expect(mermaid.stdout).toContain('\n    container-default-route\n');
    const json = await host.runbook(['graph', 'single-container', '--format', 'json']);
    expectExit(json, 0);
    // The run machine's 8 states and the step machine's 12 (issue 28: Verifying; when, holds, exporting); the runbook's 10 steps are data.
    const graph = JSON.parse(json.stdout) as { nodes: unknown[]; steps: Array<{ id: string }> };
    expect(graph.nodes).toHaveLength(8 + 12);
    expect(graph.steps.map((s) => s.id)).toContain('container-default-route');
    expect(graph.steps).toHaveLength(10);
    expectExit(await host.runbook(['graph', 'single-container', '--format', 'dot']), 2);
    expect(await host.snapshot()).toEqual(kernelBefore);
  });
});
