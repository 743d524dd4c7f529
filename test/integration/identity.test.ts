import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp-dir.js';
import { SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { rmSync } from 'node:fs';

/**
 * Issue 11, items 1 and 2, tried as a careless or hostile user would: a run never takes what
 * it did not create (the uplink, a same-named link of someone else's), a name is never read as
 * an `ip` keyword, and a rollback leaves the host exactly as it was before the run. Every run
 * happens inside a SandboxHost; nothing here touches this machine's network.
 */

let host: SandboxHost;
let stateDir: string;
const dirs: string[] = [];
beforeEach(async () => {
  host = await SandboxHost.create();
  stateDir = tempDir('runbook-identity-');
  dirs.push(stateDir);
});
afterEach(() => host.dispose());
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function runbook(...args: string[]): Promise<ExecResult> {
  return host.runbook([...args, '--state-dir', stateDir]);
}

function expectExit(result: ExecResult, code: number): void {
  expect(result.exitCode, `exit code; stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}

/** `ip -o link show dev X` without the index: "veth1@vpeer: <…>" shows the peer. */
async function linkLine(name: string, ns?: string): Promise<string> {
  const prefix = ns === undefined ? [] : ['-n', ns];
  const result = await host.exec(['ip', ...prefix, '-o', 'link', 'show', 'dev', name]);
  return result.exitCode === 0 ? result.stdout.replace(/^\d+: /, '').split(':')[0]! : `(no ${name})`;
}

/** The run id a run printed (in its "runbook journal <id>" hint or its summary). */
function runIdOf(result: ExecResult): string {
  const id = /\b(\d{8}T\d{6}.\d{3}Z-[0-9a-f]+)\b/.exec(result.stdout + result.stderr)?.[1];
  expect(id, `a run id in:\n${result.stdout}\n${result.stderr}`).toBeDefined();
  return id!;
}

async function uplinkIntact(): Promise<void> {
  const addrs = await host.exec(['ip', '-4', '-o', 'addr', 'show', 'dev', 'enp0s8']);
  expect(addrs.stdout).toContain('inet 10.0.0.10/24');
  const route = await host.exec(['ip', 'route', 'show', 'default']);
  expect(route.stdout).toContain('default via 10.0.0.1 dev enp0s8');
}

describe('a same-named object that is not the one the step makes', () => {
  it('a pre-existing veth1 with peer vpeer, container_veth=enp0s8: refused before any change, both names in use named; veth1 and the uplink stay', async () => {
    await host.exec(['ip', 'link', 'add', 'name', 'veth1', 'type', 'veth', 'peer', 'name', 'vpeer']);
    const before = await host.snapshot();

    const run = await runbook('run', 'single-container', '--set', 'container_veth=enp0s8');
    // Names in use are preconditions about the host as found (issue 23): checked before the
    // first change, all of them, and the run is refused with nothing changed.
    expectExit(run, 2);
    expect(run.stderr).toContain('would be refused by 2 preconditions about this host; nothing was changed');
    const refusal = run.stderr.split('\n');
    const veth1 = refusal.find((l) => l.includes('link named veth1')) ?? '';
    expect(veth1).toContain(
      "veth-pair: the host already has a link named veth1, and it is not this runbook's veth pair",
    );
    // The evidence is the line that shows the peer, cut to what matters.
    expect(veth1).toContain('veth1@vpeer');
    expect(veth1.length).toBeLessThan(400);
    expect(run.stderr).toContain(
      "veth-pair: the host already has a link named enp0s8, the name of the pair's container end",
    );
    expect(run.stdout).not.toMatch(/changed|failed/);
    await uplinkIntact();
    expect(await host.snapshot()).toEqual(before);
    expect(await linkLine('veth1')).toBe('veth1@vpeer');
    const rollback = await runbook('rollback');
    expectExit(rollback, 0);
    expect(rollback.stdout).toContain('nothing to roll back');
  });

  it("veth1's peer already in container1: the move of enp0s8 is refused before it happens", async () => {
    // Someone else's pair, with its peer already inside a namespace of the same name.
    await host.exec(['ip', 'netns', 'add', 'container1']);
    await host.exec(['ip', 'link', 'add', 'name', 'veth1', 'type', 'veth', 'peer', 'name', 'vpeer']);
    await host.exec(['ip', 'link', 'set', 'dev', 'vpeer', 'netns', 'container1']);
    const before = await host.snapshot();

    const run = await runbook('run', 'single-container', '--set', 'container_veth=enp0s8');
    expectExit(run, 1);
    expect(run.stdout).toMatch(/failed +move-container-end .*\(its command did not run: see why below\)/);
    // The pair was found in place (veth1's peer in container1): veth-pair adopts it, and nothing
    // of it is moved (only_if_created_by), before the precondition is even asked.
    expect(run.stderr).toContain('did not run "do": step veth-pair found its object in place before this run');
    await uplinkIntact();
    expect(await linkLine('enp0s8', 'container1')).toBe('(no enp0s8)');

    expectExit(await runbook('rollback'), 0);
    expect(await host.snapshot()).toEqual(before);
    expect(await linkLine('vpeer', 'container1')).toMatch(/^vpeer@if\d+$/);
  });

  it('host_veth=enp0s8 (the uplink, a veth whose peer is elsewhere) is never taken for the pair: refused, nothing changed', async () => {
    const before = await host.snapshot();
    const run = await runbook('run', 'single-container', '--set', 'host_veth=enp0s8');
    expectExit(run, 2);
    expect(run.stderr).toContain("the host already has a link named enp0s8, and it is not this runbook's veth pair");
    await uplinkIntact();
    expect(await host.snapshot()).toEqual(before);
  });

  it('a pre-existing br0 that is not a bridge refuses the run before any change', async () => {
    await host.exec(['ip', 'link', 'add', 'name', 'br0', 'type', 'veth', 'peer', 'name', 'br0peer']);
    const before = await host.snapshot();
    const run = await runbook('run', 'multi-container', '--set', 'count=1');
    expectExit(run, 2);
    expect(run.stderr).toContain('bridge: the host already has a link named br0, and it is not a bridge');
    expect(await host.snapshot()).toEqual(before);
  });
});

describe('names are never ip keywords', () => {
  it('host_veth=up, container_veth=help: links literally named so, and rollback leaves the host as it was', async () => {
    const before = await host.snapshot();
    const run = await runbook('run', 'single-container', '--set', 'host_veth=up', '--set', 'container_veth=help');
    expectExit(run, 0);
    expect(await linkLine('up')).toMatch(/^up@if\d+$/);
    expect(await linkLine('help', 'container1')).toMatch(/^help@if\d+$/);
    // No auto-named pair leaked (the short form would have made veth0).
    expect(await linkLine('veth0')).toBe('(no veth0)');

    expectExit(await runbook('rollback'), 0);
    expect(await host.snapshot()).toEqual(before);
  });

  it('host_veth=type, container_veth=dev, container=h: the same', async () => {
    const before = await host.snapshot();
    const run = await runbook(
      'run',
      'single-container',
      '--set',
      'host_veth=type',
      '--set',
      'container_veth=dev',
      '--set',
      'container=h',
    );
    expectExit(run, 0);
    expect(await linkLine('dev', 'h')).toMatch(/^dev@if\d+$/);
    expectExit(await runbook('rollback'), 0);
    expect(await host.snapshot()).toEqual(before);
  });

  it('multi-container with bridge=up: a bridge named up, nothing leaked after rollback', async () => {
    const before = await host.snapshot();
    const run = await runbook('run', 'multi-container', '--set', 'count=1', '--set', 'bridge=up');
    expectExit(run, 0);
    const bridge = (await host.ipJson(['-d', 'link', 'show', 'dev', 'up'])) as Array<{
      linkinfo: { info_kind: string };
    }>;
    expect(bridge[0]?.linkinfo.info_kind).toBe('bridge');
    expect(await linkLine('bridge0')).toBe('(no bridge0)');
    expectExit(await runbook('rollback'), 0);
    expect(await host.snapshot()).toEqual(before);
  });
});

describe('an object found in place is adopted as it is, never moved (only_if_created_by)', () => {
  it('a pre-existing veth1/ceth1 pair, both ends in the host: ceth1 is not moved, and rollback leaves the pair', async () => {
    await host.exec(['ip', 'link', 'add', 'name', 'veth1', 'type', 'veth', 'peer', 'name', 'ceth1']);
    const before = await host.snapshot();

    const run = await runbook('run', 'single-container');
    expectExit(run, 1);
    expect(run.stdout).toMatch(/ok +veth-pair/);
    expect(run.stdout).toMatch(/failed +move-container-end .*\(its command did not run/);
    expect(run.stderr).toContain('step veth-pair found its object in place before this run');
    expect(await linkLine('ceth1')).toBe('ceth1@veth1');
    expect(await linkLine('ceth1', 'container1')).toBe('(no ceth1)');

    const rollback = await runbook('rollback');
    expectExit(rollback, 0);
    expect(await host.snapshot()).toEqual(before);
    expect(await linkLine('veth1')).toBe('veth1@ceth1');

    // The journal says the move was not run, and why.
    const journal = await runbook('journal', runIdOf(run));
    expect(journal.stdout).toMatch(/do +command 1 not run: did not run "do": step veth-pair found its object/);
  });

  it('multi-container: a pre-existing veth1/ceth1 is neither moved nor attached to the bridge', async () => {
    await host.exec(['ip', 'link', 'add', 'name', 'veth1', 'type', 'veth', 'peer', 'name', 'ceth1']);
    const before = await host.snapshot();
    const run = await runbook('run', 'multi-container', '--set', 'count=1');
    expectExit(run, 1);
    expect(run.stdout).toMatch(/failed +move-container-end-1 /);
    expect(await linkLine('ceth1')).toBe('ceth1@veth1');
    expectExit(await runbook('rollback'), 0);
    expect(await host.snapshot()).toEqual(before);
  });

  it('a pair this run created in an earlier attempt is moved on resume; a new run adopts it and does not', async () => {
    const before = await host.snapshot();
    const first = await runbook('run', 'single-container', '--until', 'veth-pair');
    expectExit(first, 0);
    const firstId = runIdOf(first);

    // A second, separate run finds the pair in place: it did not create it, so it does not move it.
    const second = await runbook('run', 'single-container');
    expectExit(second, 1);
    expect(second.stdout).toMatch(/failed +move-container-end /);
    expect(second.stderr).toContain('resuming that run');
    const undoSecond = await runbook('rollback', runIdOf(second));
    expectExit(undoSecond, 0);
    expect(undoSecond.stdout).toContain('0 step(s) undone (it had changed nothing)');
    expect(await linkLine('veth1')).toBe('veth1@ceth1');

    // The first run, resumed, created the pair: it moves ceth1 and finishes.
    const resumed = await runbook('resume', firstId);
    expectExit(resumed, 0);
    expect(await linkLine('ceth1', 'container1')).toMatch(/^ceth1@if\d+$/);
    expectExit(await runbook('rollback', firstId), 0);
    expect(await host.snapshot()).toEqual(before);
  });
});

describe("someone else's ceth1 already inside container1", () => {
  it('is not taken for the moved end: the run is refused before any change, naming the link in the way', async () => {
    await host.exec(['ip', 'netns', 'add', 'container1']);
    await host.exec(['ip', 'link', 'add', 'name', 'ceth1', 'type', 'veth', 'peer', 'name', 'xpeer']);
    await host.exec(['ip', 'link', 'set', 'dev', 'ceth1', 'netns', 'container1']);
    const before = await host.snapshot();

    const run = await runbook('run', 'single-container');
    expectExit(run, 2);
    expect(run.stderr).toContain(
      "move-container-end: container1 already has a link named ceth1: the pair's end could not be moved there",
    );
    expect(run.stderr).toContain('nothing was changed');
    // Nothing of the foreign link was touched: no address, still down; nothing else either.
    const foreign = (await host.ipJson(['-n', 'container1', 'addr', 'show', 'dev', 'ceth1'])) as Array<{
      flags: string[];
      addr_info: Array<{ family: string }>;
    }>;
    expect(foreign[0]?.flags).not.toContain('UP');
    expect(foreign[0]?.addr_info.filter((a) => a.family === 'inet')).toEqual([]);
    expect(await host.snapshot()).toEqual(before);
  });
});

describe('a namespace found in place is left as it was', () => {
  it('multi-container in a pre-existing container1: lo loses the 127.0.0.1 its bring-up gave it, and keeps one it had', async () => {
    await host.exec(['ip', 'netns', 'add', 'container1']);
    const before = await host.snapshot();
    expectExit(await runbook('run', 'multi-container', '--set', 'count=1'), 0);
    expectExit(await runbook('rollback'), 0);
    expect(await host.snapshot()).toEqual(before);

    // lo brought up and down by hand before the run: the kernel left 127.0.0.1/8, which stays.
    await host.exec(['ip', '-n', 'container1', 'link', 'set', 'dev', 'lo', 'up']);
    await host.exec(['ip', '-n', 'container1', 'link', 'set', 'dev', 'lo', 'down']);
    const played = await host.snapshot();
    expectExit(await runbook('run', 'multi-container', '--set', 'count=1'), 0);
    expectExit(await runbook('rollback'), 0);
    expect(await host.snapshot()).toEqual(played);
    const lo = await host.exec(['ip', '-n', 'container1', '-o', '-4', 'addr', 'show', 'dev', 'lo']);
    expect(lo.stdout).toContain('127.0.0.1/8');
  });
});

describe('a network the host already routes is never taken over', () => {
  it('single-container with subnet=10.0.0.0/25 beside the uplink 10.0.0.0/24: refused before any change, the uplink keeps its traffic', async () => {
    const before = await host.snapshot();
    const run = await runbook(
      'run',
      'single-container',
      '--set',
      'subnet=10.0.0.0/25',
      '--set',
      'container_cidr=10.0.0.2/25',
      '--set',
      'gateway=10.0.0.2',
    );
    expectExit(run, 2);
    expect(run.stderr).toContain(
      'host-route: the host already routes 10.0.0.0/25 (or a network that holds it) through another link',
    );
    // The evidence is the route in the way, not the first line of the output.
    expect(run.stderr).toContain('(found: 10.0.0.0/24 dev enp0s8');
    expect(run.stderr).not.toContain('ip route add');
    await uplinkIntact();
    const gateway = await host.exec(['ip', 'route', 'get', '10.0.0.1']);
    expect(gateway.stdout).toContain('dev enp0s8');
    expect(await host.snapshot()).toEqual(before);
  });

  it('multi-container with bridge_cidr=10.0.0.20/24 (the uplink network): refused before the bridge is made', async () => {
    const before = await host.snapshot();
    const run = await runbook('run', 'multi-container', '--set', 'count=1', '--set', 'bridge_cidr=10.0.0.20/24');
    expectExit(run, 2);
    expect(run.stderr).toContain('bridge-address: the host already routes 10.0.0.20/24');
    await uplinkIntact();
    expect(await host.snapshot()).toEqual(before);
  });
});
