import { execa, type ResultPromise } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listRunIndexes } from '../../src/journal/run-index.js';
import { lockFile } from '../../src/journal/paths.js';
import { parseRunbook, runbooksDir } from '../../src/runbook/load.js';
import { SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { tempDirsRemovedAfterAll } from '../helpers/temp-dir.js';

/**
 * The single-container runbook on a real kernel. Every CLI run and every `ip`/`ping` happens
 * inside a SandboxHost (a throwaway network + mount namespace set up like the tutorial's VM);
 * nothing here touches this machine's own network. Packets only go to sandbox addresses.
 */

const tempDir = tempDirsRemovedAfterAll('runbook-it-');

const stepIds = [
  'namespace',
  'veth-pair',
  'move-container-end',
  'host-end-up',
  'container-end-up',
  'container-address',
  'host-route',
  'container-default-route',
  'ping-container-from-host',
  'ping-host-from-container',
];

interface StepEvent {
  event: 'step';
  stepId: string;
  outcome: string;
  doFailed: boolean;
}
interface RunEndEvent {
  event: 'run-end';
  runId: string;
  status: string;
  changed: number;
  failure?: unknown;
}

/** Parses `run --json` output: one JSON event per line. */
function events(result: ExecResult): { steps: StepEvent[]; end: RunEndEvent } {
  const parsed = result.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as StepEvent | RunEndEvent);
  const end = parsed.find((e): e is RunEndEvent => e.event === 'run-end');
  if (end === undefined) throw new Error(`no run-end event in:\n${result.stdout}\n${result.stderr}`);
  return { steps: parsed.filter((e): e is StepEvent => e.event === 'step'), end };
}

const outcomes = (steps: StepEvent[]) => Object.fromEntries(steps.map((s) => [s.stepId, s.outcome]));

/** Shows the CLI's output when an exit code is not the expected one. */
function expectExit(result: ExecResult, code: number): void {
  expect(result.exitCode, `exit code; stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}

interface Link {
  ifname: string;
  flags: string[];
  linkinfo?: { info_kind?: string };
}
interface Route {
  dst: string;
  gateway?: string;
  dev: string;
}

/** IPv4 routes of the main table as short strings: "dst [via gw] dev dev". */
async function routes(host: SandboxHost, ns?: string): Promise<string[]> {
  const prefix = ns === undefined ? [] : ['-n', ns];
  const list = (await host.ipJson([...prefix, '-4', 'route', 'show'])) as Route[];
  return list.map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}`).sort();
}

async function links(host: SandboxHost, ns?: string): Promise<Link[]> {
  const prefix = ns === undefined ? [] : ['-n', ns];
  return ((await host.ipJson([...prefix, '-d', 'link', 'show'])) as Link[]).sort((a, b) =>
    a.ifname.localeCompare(b.ifname),
  );
}

async function ipv4Addrs(host: SandboxHost, ns?: string): Promise<string[]> {
  const prefix = ns === undefined ? [] : ['-n', ns];
  const list = (await host.ipJson([...prefix, '-4', 'addr', 'show'])) as Array<{
    ifname: string;
    addr_info: Array<{ local: string; prefixlen: number }>;
  }>;
  return list.flatMap((a) => a.addr_info.map((i) => `${a.ifname} ${i.local}/${i.prefixlen}`)).sort();
}

async function namespaces(host: SandboxHost): Promise<string[]> {
  return ((await host.ipJson(['netns', 'list'])) as Array<{ name: string }>).map((n) => n.name).sort();
}

/** The tutorial's end state, for any choice of names and addresses. */
async function expectTutorialEndState(
  host: SandboxHost,
  p: {
    container: string;
    hostVeth: string;
    containerVeth: string;
    cidr: string;
    subnet: string;
    gateway: string;
    hostIp: string;
  },
): Promise<void> {
  expect(await namespaces(host)).toEqual([p.container, 'lan'].sort());

  const hostLinks = await links(host);
  expect(hostLinks.map((l) => l.ifname)).toEqual(['enp0s8', 'lo', p.hostVeth].sort());
  const hostVeth = hostLinks.find((l) => l.ifname === p.hostVeth)!;
  expect(hostVeth.linkinfo?.info_kind).toBe('veth');
  expect(hostVeth.flags).toContain('UP');
  expect(hostVeth.flags).toContain('LOWER_UP'); // the peer is up too
  // The host end has no address of its own (the tutorial gives it none).
  expect(await ipv4Addrs(host)).toEqual(['enp0s8 10.0.0.10/24', 'lo 127.0.0.1/8']);
  expect(await routes(host)).toEqual(
    ['10.0.0.0/24 dev enp0s8', `${p.subnet} dev ${p.hostVeth}`, 'default via 10.0.0.1 dev enp0s8'].sort(),
  );

  const inside = await links(host, p.container);
  expect(inside.map((l) => l.ifname)).toEqual(['lo', p.containerVeth].sort());
  const cveth = inside.find((l) => l.ifname === p.containerVeth)!;
  expect(cveth.linkinfo?.info_kind).toBe('veth');
  expect(cveth.flags).toContain('UP');
  expect(await ipv4Addrs(host, p.container)).toEqual([`${p.containerVeth} ${p.cidr}`]);
  const [address, prefixlen] = p.cidr.split('/');
  const connected = `${p.subnet.split('/')[0]}/${prefixlen} dev ${p.containerVeth}`;
  expect(await routes(host, p.container)).toEqual(
    [connected, `default via ${p.gateway} dev ${p.containerVeth}`].sort(),
  );

  // And the proof: a ping each way.
  const toContainer = await host.exec(['ping', '-c1', '-W1', address!]);
  expect(toContainer.exitCode, toContainer.stdout + toContainer.stderr).toBe(0);
  const toHost = await host.exec(['ip', 'netns', 'exec', p.container, 'ping', '-c1', '-W1', p.hostIp]);
  expect(toHost.exitCode, toHost.stdout + toHost.stderr).toBe(0);
}

const defaults = {
  container: 'container1',
  hostVeth: 'veth1',
  containerVeth: 'ceth1',
  cidr: '172.16.0.2/24',
  subnet: '172.16.0.0/24',
  gateway: '172.16.0.2',
  hostIp: '10.0.0.10',
};

describe('runbook run single-container (real kernel, sandbox host)', () => {
  let host: SandboxHost;
  let stateDir: string;
  let first: ExecResult;
  let afterFirst: Record<string, unknown>;

  beforeAll(async () => {
    host = await SandboxHost.create();
    stateDir = tempDir();
    // The sandbox starts as the tutorial's VM: no container, and the host cannot reach it.
    expect(await namespaces(host)).toEqual(['lan']);
    expect((await host.exec(['ping', '-c1', '-W1', '172.16.0.2'])).exitCode).not.toBe(0);
    first = await host.runbook(['--state-dir', stateDir, 'run', 'single-container']);
    afterFirst = await host.snapshot();
  });
  afterAll(() => host?.dispose());

  it('exits 0 and leaves exactly the tutorial end state', async () => {
    expectExit(first, 0);
    expect(first.stderr).toBe('');
    for (const id of stepIds) expect(first.stdout).toMatch(new RegExp(`^ {2}(changed|ok) +${id} `, 'm'));
    expect(first.stdout).toMatch(/^run \S+ succeeded: 8 step\(s\) changed$/m);
    await expectTutorialEndState(host, defaults);
  });

  it('journals the run: run-start pins runbook, hash, params, user, host, engine; every command-start is followed by its command-end', async () => {
    const raw = await host.runbook(['--state-dir', stateDir, 'journal', 'latest', '--json']);
    expectExit(raw, 0);
    const lines = raw.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const start = lines[0]!;
    expect(start).toMatchObject({
      type: 'run-start',
      seq: 1,
      runbook: 'single-container',
      params: {
        container: 'container1',
        host_veth: 'veth1',
        container_veth: 'ceth1',
        container_cidr: '172.16.0.2/24',
        subnet: '172.16.0.0/24',
        gateway: '172.16.0.2',
        host_ip: '10.0.0.10',
        ping_deadline: '2',
      },
      user: { uid: 0 },
      host: { hostname: expect.any(String) },
      engineVersion: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    expect(start.runbookHash).toMatch(/^[0-9a-f]{64}$/);
    // The exact runbook text is recorded, with its hash.
    const file = path.join(runbooksDir, 'single-container.yaml');
    expect(start.runbookFile).toBe(file);
    expect(start.runbookSource).toBe(readFileSync(file, 'utf8'));
    expect(start.runbookHash).toBe(parseRunbook(start.runbookSource as string, file).hash);
    // The sandbox's network namespace, not this machine's.
    const inner = await host.exec(['readlink', '/proc/self/ns/net']);
    expect((start.host as { netns: string }).netns).toBe(inner.stdout.trim());

    lines.forEach((line, i) => {
      expect(line.seq).toBe(i + 1);
      if (line.type === 'command-start') {
        expect(lines[i + 1], `entry after command-start #${i + 1}`).toMatchObject({
          type: 'command-end',
          step: line.step,
          phase: line.phase,
          index: line.index,
        });
      }
      if (line.type === 'command-end') expect(lines[i - 1]?.type).toBe('command-start');
    });
    const doCommands = lines
      .filter((l) => l.type === 'command-start' && l.phase === 'do')
      .map((l) => (l.argv as string[]).join(' '));
    expect(doCommands).toEqual([
      'ip netns add container1',
      'ip link add name veth1 type veth peer name ceth1',
      'ip link set dev ceth1 netns container1',
      'ip link set dev veth1 up',
      'ip -n container1 link set dev ceth1 up',
      'ip -n container1 addr add 172.16.0.2/24 dev ceth1',
      'ip route add 172.16.0.0/24 dev veth1',
      'ip -n container1 route add default via 172.16.0.2 dev ceth1',
    ]);
    expect(lines.filter((l) => l.type === 'step-end').map((l) => [l.step, l.outcome])).toEqual(
      stepIds.map((id) => [id, id.startsWith('ping') ? 'ok' : 'changed']),
    );
    expect(lines.at(-1)).toMatchObject({ type: 'run-end', status: 'succeeded' });

    const text = await host.runbook(['--state-dir', stateDir, 'journal', 'latest']);
    expectExit(text, 0);
    expect(text.stdout).toMatch(/^status: succeeded$/m);
    expect(text.stdout).toContain('$ ip netns add container1');
    expect(text.stdout).toContain('$ ip -n container1 route add default via 172.16.0.2 dev ceth1');

    const verify = await host.runbook(['--state-dir', stateDir, 'journal', 'latest', '--verify']);
    expectExit(verify, 0);
    expect(verify.stdout).toContain('is intact');

    const runs = await host.runbook(['--state-dir', stateDir, 'runs', '--json']);
    expectExit(runs, 0);
    const list = JSON.parse(runs.stdout) as Array<{ id: string; runbook: string; status: string }>;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ runbook: 'single-container', status: 'succeeded', id: start.runId });
  });

  it('a second run changes nothing: exit 0, every step ok, the kernel state identical', async () => {
    const second = await host.runbook(['--state-dir', stateDir, 'run', 'single-container', '--json']);
    expectExit(second, 0);
    const { steps, end } = events(second);
    expect(steps.map((s) => s.stepId)).toEqual(stepIds);
    expect(steps.every((s) => s.outcome === 'ok')).toBe(true);
    expect(end).toMatchObject({ status: 'succeeded', changed: 0 });
    expect(await host.snapshot()).toEqual(afterFirst);
    // Nothing but checks ran: no do command in its journal.
    const journal = readFileSync(path.join(stateDir, 'runs', `${end.runId}.ndjson`), 'utf8');
    expect(journal).not.toContain('"phase":"do"');
  });

  it('repairs what was undone by hand: only that step changes', async () => {
    const del = await host.exec(['ip', '-n', 'container1', 'route', 'del', 'default']);
    expect(del.exitCode, del.stderr).toBe(0);
    expect(await routes(host, 'container1')).toEqual(['172.16.0.0/24 dev ceth1']);
    // Tutorial step 9: without the route back, the host's ping gets no answer.
    expect((await host.exec(['ping', '-c1', '-W1', '172.16.0.2'])).exitCode).not.toBe(0);

    const again = await host.runbook(['--state-dir', stateDir, 'run', 'single-container', '--json']);
    expectExit(again, 0);
    const { steps, end } = events(again);
    expect(outcomes(steps)).toEqual(
      Object.fromEntries(stepIds.map((id) => [id, id === 'container-default-route' ? 'changed' : 'ok'])),
    );
    expect(end).toMatchObject({ status: 'succeeded', changed: 1 });
    expect(await host.snapshot()).toEqual(afterFirst);
    await expectTutorialEndState(host, defaults);
  });
});

describe('runbook run single-container with every parameter overridden', () => {
  let host: SandboxHost;
  beforeAll(async () => {
    host = await SandboxHost.create();
  });
  afterAll(() => host?.dispose());

  it('uses the given names and addresses', async () => {
    const stateDir = tempDir();
    const result = await host.runbook([
      '--state-dir',
      stateDir,
      'run',
      'single-container',
      '--set',
      'container=web1',
      '--set',
      'host_veth=vhost9',
      '--set',
      'container_veth=vcont9',
      '--set',
      'container_cidr=172.16.0.9/24',
      '--set',
      'subnet=172.16.0.0/24',
      '--set',
      'gateway=172.16.0.9',
      '--set',
      'host_ip=10.0.0.10',
    ]);
    expectExit(result, 0);
    await expectTutorialEndState(host, {
      container: 'web1',
      hostVeth: 'vhost9',
      containerVeth: 'vcont9',
      cidr: '172.16.0.9/24',
      subnet: '172.16.0.0/24',
      gateway: '172.16.0.9',
      hostIp: '10.0.0.10',
    });
    // None of the default names was created.
    const snapshot = JSON.stringify(await host.snapshot());
    for (const name of ['container1', 'veth1', 'ceth1', '172.16.0.2/']) expect(snapshot).not.toContain(name);
  });
});

describe('runbook run single-container: invalid input exits 2 and changes nothing', () => {
  let host: SandboxHost;
  let before: Record<string, unknown>;
  let stateDir: string;
  const dir = tempDir('runbook-it-files-');
  const files = {
    malformed: path.join(dir, 'malformed.yaml'),
    schema: path.join(dir, 'no-verify.yaml'),
    missing: path.join(dir, 'does-not-exist.yaml'),
  };

  beforeAll(async () => {
    host = await SandboxHost.create();
    before = await host.snapshot();
    stateDir = tempDir();
    writeFileSync(files.malformed, 'name: broken\nsteps: [unclosed\n  - id: : :\n');
    writeFileSync(
      files.schema,
      [
        'name: no-verify',
        'description: a step without verify',
        'steps:',
        '  - id: make',
        '    title: t',
        '    why: w',
        '    do: [[ip, netns, add, x]]',
        '    undo: [[ip, netns, del, x]]',
        '',
      ].join('\n'),
    );
  });
  afterAll(() => host?.dispose());

  const cases: Array<[string, () => string[], Array<string | RegExp>]> = [
    ['an unknown parameter', () => ['run', 'single-container', '--set', 'nope=1'], ['unknown parameter "nope"']],
    ['a malformed --set', () => ['run', 'single-container', '--set', 'container'], ['malformed --set "container"']],
    [
      'a bad IP address',
      () => ['run', 'single-container', '--set', 'host_ip=10.0.0.300'],
      ['--set host_ip=10.0.0.300', 'not a valid ipv4'],
    ],
    [
      'a bad CIDR',
      () => ['run', 'single-container', '--set', 'container_cidr=172.16.0.2/33'],
      ['--set container_cidr=172.16.0.2/33', 'not a valid ipv4-cidr'],
    ],
    [
      'a too long interface name',
      () => ['run', 'single-container', '--set', 'host_veth=this-name-is-too-long'],
      ['--set host_veth=this-name-is-too-long', '1 to 15 characters'],
    ],
    [
      'an interface name with a slash',
      () => ['run', 'single-container', '--set', 'host_veth=a/b'],
      ['--set host_veth=a/b', 'cannot contain "/"'],
    ],
    [
      'an empty name',
      () => ['run', 'single-container', '--set', 'container='],
      ['--set container=: "" is not a valid name'],
    ],
    ['an unknown runbook', () => ['run', 'nosuch'], ['unknown runbook "nosuch"']],
    ['a missing runbook file', () => ['run', files.missing], [`runbook file not found: ${files.missing}`]],
    ['malformed YAML', () => ['run', files.malformed], [`${files.malformed}: not valid YAML`, /line \d+/]],
    ['a step missing verify', () => ['run', files.schema], [`${files.schema}: not a valid runbook`, 'steps[0].verify']],
    ['an unknown option', () => ['run', 'single-container', '--bogus'], ["unknown option '--bogus'"]],
    [
      '--until a step that does not exist',
      () => ['run', 'single-container', '--until', 'nosuchstep'],
      ['--until nosuchstep', 'no such step'],
    ],
  ];

  it.each(cases)('%s', async (_name, args, mentions) => {
    const result = await host.runbook(['--state-dir', stateDir, ...args()]);
    expectExit(result, 2);
    for (const mention of mentions) {
      if (typeof mention === 'string') expect(result.stderr).toContain(mention);
      else expect(result.stderr).toMatch(mention);
    }
    expect(result.stderr).not.toContain('internal error');
    expect(result.stderr).not.toMatch(/^\s+at /m); // no stack trace
    // Nothing changed, nothing recorded, no lock left behind.
    expect(await host.snapshot()).toEqual(before);
    expect(listRunIndexes(stateDir)).toEqual([]);
    expect(existsSync(lockFile(stateDir))).toBe(false);
  });
});

describe('runbook run single-container --sandbox', () => {
  let host: SandboxHost;
  beforeAll(async () => {
    host = await SandboxHost.create();
  });
  afterAll(() => host?.dispose());

  it('runs in its own throwaway host: both pings ok, the host it was started from untouched', async () => {
    const before = await host.snapshot();
    const stateDir = tempDir();
    const result = await host.runbook(['--state-dir', stateDir, 'run', 'single-container', '--sandbox']);
    expectExit(result, 0);
    expect(result.stdout).toContain('sandbox host ready');
    expect(result.stdout).toMatch(/^run \S+ succeeded: 8 step\(s\) changed$/m);
    expect(result.stdout).toMatch(/host → 172\.16\.0\.2: ping[^\n]*\n\s+ok: .*1 received/);
    expect(result.stdout).toMatch(/container1 → 10\.0\.0\.10: ping[^\n]*\n\s+ok: .*1 received/);
    expect(result.stdout).not.toContain('FAILED');

    const after = await host.snapshot();
    expect(after).toEqual(before);
    expect(after.namespaces).toEqual(['lan']);
    expect(JSON.stringify(after)).not.toContain('veth1');

    // The run was recorded, bound to the one-shot sandbox's own network namespace.
    const runs = listRunIndexes(stateDir);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'succeeded', host: { sandbox: expect.stringMatching(/^one-shot-\d+$/) } });
    const outerNetns = (await host.exec(['readlink', '/proc/self/ns/net'])).stdout.trim();
    expect(runs[0]!.host.netns).not.toBe(outerNetns);
  });
});

describe('runbook run single-container: the state dir lock', () => {
  let host: SandboxHost;
  let sleeper: ResultPromise | undefined;
  beforeAll(async () => {
    host = await SandboxHost.create();
  });
  afterEach(() => {
    sleeper?.kill('SIGKILL');
    sleeper = undefined;
  });
  afterAll(() => host?.dispose());

  it('exits 3 naming the live holder; nothing changed, no run recorded', async () => {
    const stateDir = tempDir();
    sleeper = execa('sleep', ['30'], { reject: false });
    const pid = sleeper.pid!;
    writeFileSync(lockFile(stateDir), JSON.stringify({ pid, command: 'run x', since: '2026-11-28T00:00:00.000Z' }));
    const before = await host.snapshot();
    const result = await host.runbook(['--state-dir', stateDir, 'run', 'single-container']);
    expectExit(result, 3);
    expect(result.stderr).toContain(`pid ${pid} (run x)`);
    expect(await host.snapshot()).toEqual(before);
    expect(listRunIndexes(stateDir)).toEqual([]);
    // The holder's lock is left alone.
    expect(JSON.parse(readFileSync(lockFile(stateDir), 'utf8')).pid).toBe(pid);
  });

  it('takes over a lock left by a dead process, with a note on stderr', async () => {
    const stateDir = tempDir();
    const gone = execa('true');
    const pid = gone.pid!;
    await gone;
    writeFileSync(lockFile(stateDir), JSON.stringify({ pid, command: 'run x', since: '2026-11-28T00:00:00.000Z' }));
    const result = await host.runbook(['--state-dir', stateDir, 'run', 'single-container']);
    expectExit(result, 0);
    expect(result.stderr).toContain(`note: took over the lock left by pid ${pid} (run x`);
    expect(existsSync(lockFile(stateDir))).toBe(false);
    expect(listRunIndexes(stateDir).map((r) => r.status)).toEqual(['succeeded']);
    await expectTutorialEndState(host, defaults);
  });
});

describe('runbook run single-container: stopping early and failing', () => {
  // A fresh sandbox host for each test: each leaves a different state behind.
  let host: SandboxHost;
  beforeEach(async () => {
    host = await SandboxHost.create();
  });
  afterEach(() => host?.dispose());

  it("--until host-route stops there (the tutorial's step 9): exit 0, status stopped, no route back yet", async () => {
    const stateDir = tempDir();
    const result = await host.runbook([
      '--state-dir',
      stateDir,
      'run',
      'single-container',
      '--until',
      'host-route',
      '--json',
    ]);
    expectExit(result, 0);
    const { steps, end } = events(result);
    expect(steps.map((s) => s.stepId)).toEqual(stepIds.slice(0, stepIds.indexOf('host-route') + 1));
    expect(end.status).toBe('stopped');
    expect(listRunIndexes(stateDir).map((r) => r.status)).toEqual(['stopped']);
    expect(await routes(host, 'container1')).toEqual(['172.16.0.0/24 dev ceth1']);
    expect(await routes(host)).toContain('172.16.0.0/24 dev veth1');
    // The request reaches the container, but the container has no route back.
    expect((await host.exec(['ping', '-c1', '-W1', '172.16.0.2'])).exitCode).not.toBe(0);
    const back = await host.exec(['ip', '-n', 'container1', 'route', 'get', '10.0.0.10']);
    expect(back.exitCode).not.toBe(0);
    expect(back.stderr).toContain('Network is unreachable');
  });

  it('a conflicting route already on the host: exit 2 before any change, naming the route in the way (issue 23)', async () => {
    // Someone already routes the container subnet elsewhere (to the sandbox's lan gateway).
    const conflict = await host.exec(['ip', 'route', 'add', '172.16.0.0/24', 'via', '10.0.0.1', 'dev', 'enp0s8']);
    expect(conflict.exitCode, conflict.stderr).toBe(0);
    const before = await host.snapshot();
    const stateDir = tempDir();
    const result = await host.runbook(['--state-dir', stateDir, 'run', 'single-container']);
    // A precondition about the host as found (the subnet is new to it) is checked before the
    // first change: the run is refused with nothing changed, not stopped after six steps.
    expectExit(result, 2);
    expect(result.stdout).not.toMatch(/changed|failed/);
    expect(result.stderr).toMatch(
      /^ {2}- host-route: the host already routes 172\.16\.0\.0\/24 \(or a network that holds it\) through another link.*\(found: 172\.16\.0\.0\/24 via 10\.0\.0\.1 dev enp0s8/m,
    );
    // Not the old advice, `ip route add 172.16.0.0/24 dev veth1`: it would fail ("File exists").
    expect(result.stderr).not.toContain('ip route add');
    expect(result.stderr).toContain('nothing was changed');
    expect(await host.snapshot()).toEqual(before);
    expect(listRunIndexes(stateDir)).toEqual([]);
    expect(await routes(host)).toContain('172.16.0.0/24 via 10.0.0.1 dev enp0s8');
  });
});
