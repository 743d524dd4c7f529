import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, repoRoot, runsOf, type FleetHost } from './fleet-hosts.js';

/**
 * The runbook module (runbook_project.runbook.runbook) converges (issue 23, item 4), over real SSH to two sandbox hosts (see
 * ./fleet-hosts.ts): `state: present` with other params replaces the run in effect (`replace`,
 * true by default), check mode says what would be replaced and what would fail apart from
 * drift, --diff shows the plan as before/after, a ping that fails is a failed verification
 * (not a change), and `rollback_on_failure` undoes a failed run. Every assertion on a host's
 * state reads its kernel or its state dir, not Ansible's word for it.
 *
 * The steps follow one fleet's life, so they run in order and share it.
 */

type Snapshot = Record<string, unknown>;

interface TaskResult {
  changed?: boolean;
  failed?: boolean;
  msg?: string;
  status?: string;
  steps?: Array<{ id: string; outcome: string; cause?: string }>;
  changed_steps?: number;
  replaced?: Array<{ run_id: string; undone: string[] }>;
  would_replace?: string[];
  would_fail?: string[];
  rolled_back?: Array<{ run_id: string; status: string; undone: string[] }>;
}

interface PlaybookResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  results: Record<string, TaskResult>;
  recap: Record<string, { ok: number; changed: number; failed: number }>;
}

let fleet: Fleet;
let before: Record<string, Snapshot>;
let playbooks = 0;

async function playbook(args: readonly string[] = []): Promise<PlaybookResult> {
  const tree = path.join(fleet.dir, `tree-${++playbooks}`);
  const apply = path.join(repoRoot, 'test', 'fleet', 'apply.yml');
  const result = await fleet.ansible(['ansible-playbook', '-i', fleet.inventory, apply, ...args], {
    ANSIBLE_CALLBACKS_ENABLED: 'tree',
    ANSIBLE_CALLBACK_TREE_DIR: tree,
  });
  const results: Record<string, TaskResult> = {};
  for (const host of existsSync(tree) ? readdirSync(tree) : [])
    results[host] = JSON.parse(readFileSync(path.join(tree, host), 'utf8')) as TaskResult;
  const recap: PlaybookResult['recap'] = {};
  for (const match of result.stdout.matchAll(/^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)/gm))
    recap[match[1] as string] = { ok: Number(match[2]), changed: Number(match[3]), failed: Number(match[4]) };
  return { ...result, results, recap };
}

/** Extra vars: params for some hosts only, and the module's other options. */
function vars(values: Record<string, unknown>): string[] {
  return ['-e', JSON.stringify(values)];
}

const newValues = { container_cidr: '172.16.0.3/24', gateway: '172.16.0.3' };

/** The container's IPv4 addresses and default gateways, read from the host's kernel. */
async function containerState(host: FleetHost): Promise<{ addrs: string[]; gateways: string[] }> {
  const addrs = JSON.parse(
    (await fleet.onHost(host, ['ip', '-j', '-n', 'container1', 'addr', 'show', 'dev', 'ceth1'])).stdout,
  ) as Array<{ addr_info: Array<{ family: string; local: string; prefixlen: number }> }>;
  const routes = JSON.parse(
    (await fleet.onHost(host, ['ip', '-j', '-n', 'container1', 'route', 'show', 'default'])).stdout,
  ) as Array<{ gateway?: string }>;
  return {
    addrs: (addrs[0]?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
    gateways: routes.map((r) => r.gateway ?? ''),
  };
}

/** Drops ICMP on one host (inside its own sandbox namespace): its pings fail, nothing else does. */
async function dropPings(host: FleetHost, on: boolean): Promise<void> {
  const rule = ['INPUT', '-p', 'icmp', '-j', 'DROP'];
  const result = await fleet.onHost(host, ['iptables', on ? '-I' : '-D', ...rule]);
  expect(result.exitCode, result.stderr).toBe(0);
}

beforeAll(async () => {
  fleet = await Fleet.create(2);
  before = await fleet.snapshots();
}, 60_000);

afterAll(async () => {
  await fleet?.dispose();
});

describe('the runbook module converges when params change', { timeout: 180_000 }, () => {
  it('check mode with new params on host1: would replace its changed steps, --diff shows old and new commands, nothing changes', async () => {
    const applied = await playbook();
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    const state = await fleet.snapshots();
    const runsBefore = fleet.hosts.map(runsOf);

    const check = await playbook(['--check', '--diff', ...vars({ rb_params_by_host: { host1: newValues } })]);
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
    expect(check.recap).toMatchObject({ host1: { changed: 1, failed: 0 }, host2: { changed: 0, failed: 0 } });
    expect(check.results.host1?.would_replace).toEqual(['container-address', 'host-route', 'container-default-route']);
    expect(check.results.host1?.would_fail).toEqual([]);
    expect(check.results.host1?.msg).toMatch(
      /^would replace steps container-address, host-route, container-default-route of run /,
    );
    // Ansible prints the plan as a diff (its tree callback keeps no `diff`): old commands, new ones.
    expect(check.stdout).toContain('-    do: ip -n container1 addr add 172.16.0.2/24 dev ceth1');
    expect(check.stdout).toContain('+    do: ip -n container1 addr add 172.16.0.3/24 dev ceth1');
    expect(check.results.host2?.would_replace).toEqual([]);
    expect(await fleet.snapshots()).toEqual(state);
    expect(fleet.hosts.map(runsOf)).toEqual(runsBefore);
  });

  it('replace: false refuses with the plan and changes nothing; by default the run in effect is replaced: exactly the new address and route', async () => {
    const host1 = fleet.hosts[0] as FleetHost;
    const state = await fleet.snapshots();
    const refused = await playbook(vars({ rb_params_by_host: { host1: newValues }, rb_replace: false }));
    expect(refused.recap).toMatchObject({ host1: { failed: 1 }, host2: { failed: 0, changed: 0 } });
    expect(refused.results.host1?.msg).toMatch(
      /^runbook run single-container exited 2: run \S+ of single-container, with other values, is in effect/,
    );
    expect(await fleet.snapshots()).toEqual(state);

    const [first] = runsOf(host1);
    const replaced = await playbook(vars({ rb_params_by_host: { host1: newValues } }));
    expect(replaced.exitCode, replaced.stdout + replaced.stderr).toBe(0);
    expect(replaced.recap).toMatchObject({ host1: { changed: 1, failed: 0 }, host2: { changed: 0, failed: 0 } });
    expect(replaced.results.host1?.replaced).toEqual([
      { run_id: first?.id, undone: ['container-default-route', 'host-route', 'container-address'] },
    ]);
    expect(await containerState(host1)).toEqual({ addrs: ['172.16.0.3/24'], gateways: ['172.16.0.3'] });
    expect(runsOf(host1).map((r) => r.status)).toEqual(['replaced', 'succeeded']);

    // The second play with the same params: nothing to do anywhere.
    const again = await playbook(vars({ rb_params_by_host: { host1: newValues } }));
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.recap).toMatchObject({ host1: { changed: 0, failed: 0 }, host2: { changed: 0, failed: 0 } });
  });

  it('check mode: a precondition about the host that would refuse the run fails the task as "would fail", apart from drift', async () => {
    // host2 without its run, and its subnet routed by hand through the uplink.
    const host2 = fleet.hosts[1] as FleetHost;
    const removed = await playbook(['--limit', 'host2', ...vars({ rb_state: 'absent' })]);
    expect(removed.exitCode, removed.stdout + removed.stderr).toBe(0);
    const route = ['172.16.0.0/24', 'via', '10.0.0.1', 'dev', 'enp0s8'];
    expect((await fleet.onHost(host2, ['ip', 'route', 'add', ...route])).exitCode).toBe(0);
    const state = await fleet.snapshots();
    const check = await playbook(['--check', '--limit', 'host2']);
    expect(check.recap).toMatchObject({ host2: { failed: 1 } });
    expect(check.results.host2?.would_fail?.[0]).toMatch(
      /^host-route: the host already routes 172\.16\.0\.0\/24 \(or a network that holds it\) through another link/,
    );
    expect(check.results.host2?.msg).toMatch(/^would fail: host-route: the host already routes 172\.16\.0\.0\/24/);
    // Apart from drift: the steps a run would do are still reported as such.
    expect(check.results.host2?.steps?.some((s) => s.outcome === 'drift')).toBe(true);
    expect(await fleet.snapshots()).toEqual(state);
    // As check mode said: the run is refused, and nothing changes.
    const refused = await playbook(['--limit', 'host2']);
    expect(refused.recap).toMatchObject({ host2: { failed: 1 } });
    expect(refused.results.host2?.msg).toMatch(/exited 2: runbook single-container would be refused by/);
    expect(await fleet.snapshots()).toEqual(state);

    expect((await fleet.onHost(host2, ['ip', 'route', 'del', ...route])).exitCode).toBe(0);
    const again = await playbook(['--limit', 'host2']);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
  });

  it('check mode: a ping that fails with nothing to change is a failed verification, not a change', async () => {
    const host2 = fleet.hosts[1] as FleetHost;
    await dropPings(host2, true);
    try {
      // (host1 keeps the values it was moved to above.)
      const check = await playbook(['--check', ...vars({ rb_params_by_host: { host1: newValues } })]);
      expect(check.recap).toMatchObject({ host1: { failed: 0, changed: 0 }, host2: { failed: 1, changed: 0 } });
      const result = check.results.host2;
      expect(result?.changed).toBe(false);
      expect(result?.changed_steps).toBe(0);
      const failed = result?.steps?.filter((s) => s.outcome === 'failed').map((s) => s.id);
      expect(failed).toContain('ping-host-from-container');
      expect(result?.steps?.some((s) => s.outcome === 'drift')).toBe(false);
      expect(result?.msg).toMatch(/^would fail: step ping-\S+: verification failed/);
    } finally {
      await dropPings(host2, false);
    }
  });

  it('rollback_on_failure: a run that fails at its ping undoes what it changed; absent then leaves every host as before the first run', async () => {
    const absent = await playbook(vars({ rb_state: 'absent' }));
    expect(absent.exitCode, absent.stdout + absent.stderr).toBe(0);
    expect(await fleet.snapshots()).toEqual(before);

    const host2 = fleet.hosts[1] as FleetHost;
    await dropPings(host2, true);
    let failed: PlaybookResult;
    try {
      failed = await playbook(vars({ rb_rollback_on_failure: true }));
    } finally {
      await dropPings(host2, false);
    }
    expect(failed.recap).toMatchObject({ host1: { failed: 0, changed: 1 }, host2: { failed: 1 } });
    const result = failed.results.host2;
    expect(result?.status).toBe('failed');
    expect(result?.rolled_back?.[0]?.status).toBe('rolled-back');
    expect(result?.rolled_back?.[0]?.undone.length).toBeGreaterThan(0);
    expect(result?.msg).toMatch(/rollback_on_failure: rolled-back, \d+ step\(s\) undone/);
    expect(await fleet.snapshot(host2)).toEqual(before.host2);

    const cleanUp = await playbook(vars({ rb_state: 'absent' }));
    expect(cleanUp.exitCode, cleanUp.stdout + cleanUp.stderr).toBe(0);
    expect(await fleet.snapshots()).toEqual(before);
  });
});
