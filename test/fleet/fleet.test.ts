import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, repoRoot, runsOf, runbookExecutable, type FleetHost } from './fleet-hosts.js';

/**
 * The runbook Ansible collection's module, by its FQCN, over real SSH (issues 14 and 24): three
 * tutorial-like hosts, each its own network namespace with a private `ip netns` registry and
 * its own sshd, and ansible-playbook
 * as the controller, all inside one outer sandbox (see ./fleet-hosts.ts). Every assertion on a
 * host's state reads that host's kernel (`ip -j`) or its state dir, not Ansible's word for it.
 *
 * The steps follow one fleet's life, so they run in order and share it.
 */

type Snapshot = Record<string, unknown>;

interface TaskResult {
  changed?: boolean;
  failed?: boolean;
  msg?: string;
  run_id?: string;
  status?: string;
  steps?: Array<{ id: string; outcome: string; cause?: string; fix?: string }>;
  changed_steps?: number;
  failure?: { stepId?: string; cause?: string; fix?: string };
  rolled_back?: Array<{ run_id: string; undone: string[] }>;
  resumed?: { run_id: string; status: string; changed_steps: number };
  awaiting_confirmation?: {
    deadline: string;
    confirm: string;
    guard?: { kind: string };
    joined?: Array<{ runId: string }>;
  };
  confirmed?: Array<{ run_id: string; changes_in_effect: number | null }>;
  extended?: Array<{ run_id: string; deadline: string; previous: string }>;
  pruned?: string[];
  diff?: { before: string; after: string };
}

interface PlaybookResult {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** The module's result on each host (the tree callback's file for that host). */
  results: Record<string, TaskResult>;
  /** PLAY RECAP: host → ok / changed / failed counts. */
  recap: Record<string, { ok: number; changed: number; failed: number }>;
}

let fleet: Fleet;
let before: Record<string, Snapshot>;
let playbooks = 0;

/** Runs a playbook against the fleet; results per host from the tree callback and the recap. */
async function playbook(file: string, args: readonly string[] = []): Promise<PlaybookResult> {
  const tree = path.join(fleet.dir, `tree-${++playbooks}`);
  const result = await fleet.ansible(['ansible-playbook', '-i', fleet.inventory, file, ...args], {
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

/** What the default callback printed for one task on each host: ok, changed or fatal. */
function taskOutcomes(stdout: string, task: string): Record<string, string> {
  const outcomes: Record<string, string> = {};
  for (const section of stdout.split(/^TASK /m).filter((s) => s.startsWith(`[${task}]`)))
    for (const match of section.matchAll(/^(ok|changed|fatal): \[(\S+?)\]/gm))
      outcomes[match[2] as string] = match[1] as string;
  return outcomes;
}

const apply = path.join(repoRoot, 'test', 'fleet', 'apply.yml');
const site = path.join(repoRoot, 'ansible', 'site.yml');

/** The entries of a run's journal on a host (one JSON object a line). */
function journalOf(host: FleetHost, runId: string): Array<{ type: string; time: string; reason?: string }> {
  return readFileSync(path.join(host.stateDir, 'runs', `${runId}.ndjson`), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { type: string; time: string; reason?: string });
}

const hostNames = ['host1', 'host2', 'host3'];
const changedSteps = (r: TaskResult | undefined) => r?.steps?.filter((s) => s.outcome === 'changed').map((s) => s.id);

beforeAll(async () => {
  fleet = await Fleet.create(3);
  before = await fleet.snapshots();
}, 60_000);

afterAll(async () => {
  await fleet?.dispose();
});

describe('the runbook module on three hosts over SSH', { timeout: 180_000 }, () => {
  it('present: every host changed, each with the tutorial end state in its own kernel; host1’s interrupted run is resumed first', async () => {
    // host1: a run killed (SIGKILL) after its 12th journal entry, a few steps in.
    const host1 = fleet.hosts[0] as FleetHost;
    const killed = await fleet.onHost(host1, [
      'env',
      'RUNBOOK_FAULT_KILL=entry:12',
      ...runbookExecutable.split(' '),
      '--state-dir',
      host1.stateDir,
      'run',
      'single-container',
    ]);
    expect(killed.exitCode).not.toBe(0);
    const [interrupted] = runsOf(host1);

    const result = await playbook(apply);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    for (const name of hostNames) {
      expect(result.recap[name]).toEqual({ ok: 1, changed: 1, failed: 0 });
      expect(result.results[name]).toMatchObject({ changed: true, status: 'succeeded' });
    }
    for (const name of ['host2', 'host3']) expect(result.results[name]?.changed_steps).toBe(8);
    // The resume did what the killed run had left; the run after it found everything in place.
    expect(result.results.host1).toMatchObject({ resumed: { run_id: interrupted?.id, status: 'succeeded' } });
    expect(result.results.host1?.resumed?.changed_steps).toBeGreaterThan(0);
    expect(result.results.host1?.changed_steps).toBe(0);
    expect(runsOf(host1).map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    for (const host of fleet.hosts) {
      const state = await fleet.snapshot(host);
      expect(state.namespaces).toEqual(['container1']);
      expect(JSON.stringify(state.host)).toContain('172.16.0.0/24');
      expect(runsOf(host).at(-1)).toMatchObject({ status: 'succeeded' });
    }
  });

  it('ansible/site.yml again (rolling, serial): every host ok; the audit, at its default absolute path, holds what is in effect; a second play over the unchanged fleet reports changed=0 on every host', async () => {
    // The default: ~/.local/state/runbook/fleet-audit.json of the user running ansible (HOME is fleet.dir).
    const audit = path.join(fleet.dir, '.local', 'state', 'runbook', 'fleet-audit.json');
    const result = await playbook(site);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(taskOutcomes(result.stdout, 'single-container')).toEqual({ host1: 'ok', host2: 'ok', host3: 'ok' });
    // serial [1, 50%]: a canary batch of one host, then the others.
    expect(result.stdout.match(/^PLAY \[Container networking/gm)).toHaveLength(3);
    const runs = JSON.parse(readFileSync(audit, 'utf8')) as Record<string, Array<Record<string, unknown>>>;
    expect(Object.keys(runs).sort()).toEqual(hostNames);
    for (const name of hostNames) {
      // The run that made the change (host1: the interrupted one, resumed); not the re-runs.
      const [made] = runsOf(fleet.hosts[hostNames.indexOf(name)] as FleetHost);
      expect(runs[name]).toEqual([expect.objectContaining({ id: made?.id, status: 'succeeded', changesLeft: true })]);
    }

    const again = await playbook(site);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    for (const name of hostNames) expect(again.recap[name]).toMatchObject({ changed: 0, failed: 0 });
    expect(JSON.parse(readFileSync(audit, 'utf8'))).toEqual(runs);
  }, 360_000); // two rolling plays of site.yml: minutes on a busy machine

  it('one host broken by hand: check mode reports only it, with the cause, and changes nothing; present repairs only it', async () => {
    const host2 = fleet.hosts[1] as FleetHost;
    expect((await fleet.onHost(host2, ['ip', 'route', 'del', '172.16.0.0/24'])).exitCode).toBe(0);
    const broken = await fleet.snapshots();
    const runsBefore = fleet.hosts.map(runsOf);

    const check = await playbook(apply, ['--check', '--diff']);
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
    // Diff mode: the step that would change, before and after (Ansible prints the diff, and
    // keeps it out of the results it saves below verbosity 3).
    expect(check.stdout).toMatch(/^-host-route: does not hold: .*no route to the container subnet 172\.16\.0\.0\/24/m);
    expect(check.stdout).toMatch(/^\+host-route: holds \(done by the run/m);
    expect(check.stdout).not.toMatch(/^[-+]namespace:/m);
    expect(check.recap).toMatchObject({ host1: { changed: 0 }, host2: { changed: 1 }, host3: { changed: 0 } });
    expect(check.results.host2).toMatchObject({ changed: true, status: 'not-ok', failure: { stepId: 'host-route' } });
    expect(check.results.host2?.failure?.cause).toMatch(/no route to the container subnet 172.16.0.0\/24/);
    expect(check.results.host2?.msg).toContain('host-route');
    expect(check.results.host1).toMatchObject({ changed: false, status: 'ok' });
    expect(await fleet.snapshots()).toEqual(broken);
    expect(fleet.hosts.map(runsOf)).toEqual(runsBefore);

    const repair = await playbook(apply);
    expect(repair.exitCode, repair.stdout + repair.stderr).toBe(0);
    expect(repair.recap).toMatchObject({ host1: { changed: 0 }, host2: { changed: 1 }, host3: { changed: 0 } });
    expect(changedSteps(repair.results.host2)).toEqual(['host-route']);
    expect(JSON.stringify((await fleet.snapshot(host2)).host)).toContain('172.16.0.0/24');
  });

  it('a bad parameter on one host fails only that host, with the CLI’s message, and changes nothing there', async () => {
    const host3 = fleet.hosts[2] as FleetHost;
    const stateBefore = await fleet.snapshot(host3);
    const runsBefore = runsOf(host3);
    const badParams = JSON.stringify({ rb_params_by_host: { host3: { container_cidr: '172.16.0.300/24' } } });
    const result = await playbook(apply, ['-e', badParams]);
    expect(result.exitCode).toBe(2); // ansible-playbook: a host failed
    expect(result.recap).toMatchObject({
      host1: { failed: 0, changed: 0 },
      host2: { failed: 0, changed: 0 },
      host3: { failed: 1 },
    });
    expect(taskOutcomes(result.stdout, 'single-container')).toEqual({ host1: 'ok', host2: 'ok', host3: 'fatal' });
    // The CLI's own words (exit 2: invalid input, nothing was changed).
    expect(result.results.host3?.msg).toMatch(
      /^runbook run single-container exited 2: .*container_cidr.*172\.16\.0\.300\/24/,
    );
    expect(await fleet.snapshot(host3)).toEqual(stateBefore);
    expect(runsOf(host3)).toEqual(runsBefore);
  });

  it('ansible/site.yml stops the rollout at the canary when it fails (max_fail_percentage 0): the other hosts are not touched', async () => {
    const runsBefore = fleet.hosts.map(runsOf);
    const bad = JSON.stringify({ runbook_params: { container_cidr: '172.16.0.300/24' } });
    const result = await playbook(site, [
      '-e',
      bad,
      '-e',
      `runbook_audit_file=${path.join(fleet.dir, 'no-audit.json')}`,
    ]);
    expect(result.exitCode).not.toBe(0);
    expect(taskOutcomes(result.stdout, 'single-container')).toEqual({ host1: 'fatal' });
    expect(result.stdout).toContain('NO MORE HOSTS LEFT');
    expect(existsSync(path.join(fleet.dir, 'no-audit.json'))).toBe(false);
    expect(fleet.hosts.map(runsOf)).toEqual(runsBefore);
  });

  it('absent: in check mode it says what it would undo and undoes nothing; then every host as before the first run; again: nothing to do', async () => {
    const applied = await fleet.snapshots();
    const dryRun = await playbook(apply, ['-e', 'rb_state=absent', '--check']);
    expect(dryRun.exitCode, dryRun.stdout + dryRun.stderr).toBe(0);
    for (const name of hostNames) expect(dryRun.recap[name]).toMatchObject({ changed: 1, failed: 0 });
    expect(dryRun.results.host2?.rolled_back).toHaveLength(2);
    expect(await fleet.snapshots()).toEqual(applied);

    const result = await playbook(apply, ['-e', 'rb_state=absent']);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    for (const name of hostNames) expect(result.recap[name]).toMatchObject({ changed: 1, failed: 0 });
    // host2 had two runs with changes (the first and the repair): newest first.
    expect(result.results.host2?.rolled_back?.map((r) => r.undone)).toEqual([['host-route'], expect.any(Array)]);
    expect(await fleet.snapshots()).toEqual(before);
    // The runs that changed something are rolled back; the re-runs that found all in place stay as they were.
    expect(fleet.hosts.map((h) => runsOf(h).filter((r) => r.status === 'rolled-back').length)).toEqual([1, 2, 1]);

    const again = await playbook(apply, ['-e', 'rb_state=absent']);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    for (const name of hostNames) expect(again.recap[name]).toMatchObject({ changed: 0, failed: 0 });
    expect(await fleet.snapshots()).toEqual(before);
  });

  it('confirm_within: a re-apply joins the run that made the changes and confirming keeps both (host1, host2); extended, the unconfirmed host3 reverts by itself at its new deadline, exactly as before', async () => {
    // The fleet is as before the first run (the absent test above).
    const applied = await playbook(apply, ['-e', 'rb_confirm_within=180s']);
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    for (const name of hostNames) expect(applied.recap[name]).toMatchObject({ changed: 1, failed: 0 });
    for (const name of hostNames) {
      expect(Date.parse(applied.results[name]?.awaiting_confirmation?.deadline ?? '')).toBeGreaterThan(Date.now());
      // The hint for this task's executable and state dir, not the CLI's default.
      expect(applied.results[name]?.awaiting_confirmation?.confirm).toBe(
        `${runbookExecutable} --state-dir ${fleet.hosts[hostNames.indexOf(name)]?.stateDir} confirm --runbook single-container`,
      );
    }
    const made = fleet.hosts.map((h) => runsOf(h).at(-1)?.id);
    const endStates = await fleet.snapshots();
    expect(fleet.hosts.map((h) => runsOf(h).at(-1)?.status)).toEqual(Array(3).fill('awaiting-confirmation'));

    // The playbook again on host1 and host2, with a longer window: it changes nothing, and joins.
    const reapplied = await playbook(apply, ['-e', 'rb_confirm_within=600s', '--limit', 'host1,host2']);
    expect(reapplied.exitCode, reapplied.stdout + reapplied.stderr).toBe(0);
    for (const [i, name] of ['host1', 'host2'].entries()) {
      expect(reapplied.recap[name]).toMatchObject({ changed: 0, failed: 0 });
      expect(reapplied.results[name]?.awaiting_confirmation?.joined).toEqual([
        expect.objectContaining({ runId: made[i] }),
      ]);
    }
    // host3 gets 20 s from now instead of its 180 s (state: extended; the 180 s leave a busy
    // machine room for the re-apply before it).
    const extendedAt = Date.now();
    const extend = await playbook(apply, [
      '-e',
      'rb_state=extended',
      '-e',
      'rb_confirm_within=20s',
      '--limit',
      'host3',
    ]);
    expect(extend.exitCode, extend.stdout + extend.stderr).toBe(0);
    expect(extend.results.host3?.extended).toEqual([expect.objectContaining({ run_id: made[2] })]);
    // 20 s from when the module ran, which was between these two moments (no bound on how long it took).
    const newDeadline = Date.parse(extend.results.host3?.extended?.[0]?.deadline ?? '');
    expect(newDeadline).toBeGreaterThanOrEqual(extendedAt + 20_000);
    expect(newDeadline).toBeLessThanOrEqual(Date.now() + 20_000);

    // A new connection confirms host1 and host2 only; host3 is "unreachable". The run that made
    // the changes is kept, named, with the re-apply that joined it.
    const confirm = await playbook(apply, ['-e', 'rb_state=confirmed', '--limit', 'host1,host2']);
    expect(confirm.exitCode, confirm.stdout + confirm.stderr).toBe(0);
    expect(confirm.recap).toMatchObject({ host1: { changed: 1, failed: 0 }, host2: { changed: 1, failed: 0 } });
    expect(confirm.recap.host3).toBeUndefined();
    for (const [i, name] of ['host1', 'host2'].entries()) {
      expect(confirm.results[name]?.confirmed).toEqual([
        { run_id: made[i], changes_in_effect: 8 },
        { run_id: runsOf(fleet.hosts[i] as FleetHost).at(-1)?.id, changes_in_effect: 0 },
      ]);
      expect(confirm.results[name]?.msg).toContain(`run ${made[i]} (8 changed step(s) kept)`);
      expect(
        runsOf(fleet.hosts[i] as FleetHost)
          .slice(-2)
          .map((r) => r.status),
      ).toEqual(['confirmed', 'confirmed']);
    }

    // host3 reverts at its new deadline, with nobody reaching it. What says so is its journal:
    // the revert names the new deadline and began after it (the poll's bound is only a bound).
    const host3 = fleet.hosts[2] as FleetHost;
    while (runsOf(host3).at(-1)?.status !== 'reverted' && Date.now() < newDeadline + 120_000)
      await new Promise((resolve) => setTimeout(resolve, 500));
    expect(runsOf(host3).at(-1)?.status).toBe('reverted');
    const revert = journalOf(host3, made[2] as string).find((line) => line.type === 'rollback-start');
    expect(revert?.reason).toBe(`automatic revert: not confirmed by ${extend.results.host3?.extended?.[0]?.deadline}`);
    expect(Date.parse(revert?.time ?? '')).toBeGreaterThanOrEqual(newDeadline);
    expect(await fleet.snapshot(host3)).toEqual(before.host3);
    expect(await fleet.snapshot(fleet.hosts[1] as FleetHost)).toEqual(endStates.host2);

    // Confirming host3 now fails with what happened; absent then leaves every host as before.
    const late = await playbook(apply, ['-e', 'rb_state=confirmed', '--limit', 'host3']);
    expect(late.recap.host3).toMatchObject({ failed: 1 });
    expect(late.results.host3?.msg).toMatch(new RegExp(`run ${made[2]} was not confirmed in time: it was reverted`));
    const absent = await playbook(apply, ['-e', 'rb_state=absent']);
    expect(absent.exitCode, absent.stdout + absent.stderr).toBe(0);
    expect(await fleet.snapshots()).toEqual(before);
  }, 360_000); // six plays and a deadline waited for: minutes on a busy machine

  it('keep_runs: the records nobody can still use are pruned, never a run with changes in effect; in check mode, only named', async () => {
    const runIdsBefore = fleet.hosts.map((h) => runsOf(h).map((r) => r.id));
    const countsBefore = runIdsBefore.map((ids) => ids.length);
    const dry = await playbook(apply, ['-e', 'rb_keep_runs=1', '--check']);
    expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0);
    expect(fleet.hosts.map((h) => runsOf(h).length)).toEqual(countsBefore);
    const applied = await playbook(apply, ['-e', 'rb_keep_runs=1']);
    expect(applied.exitCode, applied.stdout + applied.stderr).toBe(0);
    for (const [i, host] of fleet.hosts.entries()) {
      const name = hostNames[i] as string;
      // Everything before was rolled back, reverted or changed nothing; the new run made the change.
      expect(applied.results[name]?.pruned?.length).toBe(countsBefore[i]);
      // In check mode the newest existing run was kept as the newest; after the new run, it goes too.
      const existing = runIdsBefore[i] as string[];
      expect(dry.results[name]?.pruned).toEqual(existing.slice(0, -1));
      expect(applied.results[name]?.pruned).toEqual(existing);
      expect(runsOf(host)).toEqual([
        expect.objectContaining({ id: applied.results[name]?.run_id, status: 'succeeded' }),
      ]);
      // Pruning records is bookkeeping: the task is changed because the run changed the host.
      expect(applied.recap[name]).toMatchObject({ changed: 1, failed: 0 });
    }
    const absent = await playbook(apply, ['-e', 'rb_state=absent']);
    expect(absent.exitCode, absent.stdout + absent.stderr).toBe(0);
    expect(await fleet.snapshots()).toEqual(before);
  });
});
