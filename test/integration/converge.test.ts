import { describe, expect, it } from 'vitest';
import { inSandbox, journalLines, journalProblem, journalIds, runs } from '../helpers/cli-harness.js';
import type { ExecResult, SandboxHost } from '../helpers/sandbox-host.js';

/**
 * Re-applying a runbook with new values converges (issue 23), on real kernels inside throwaway
 * sandbox hosts: the plan before a change, the replace (refused without --replace), rollback
 * to before the first run, count up and down, and preconditions about the host as found that
 * refuse a run with nothing changed. Every assertion reads the kernel (`ip -j`, snapshots) or
 * the state dir, not the CLI's word for it.
 */

const newValues = ['--set', 'container_cidr=172.16.0.3/24', '--set', 'gateway=172.16.0.3'];
const fast = ['--set', 'ping_deadline=1'];

function expectExit(result: ExecResult, code: number): void {
  expect(result.exitCode, `exit code; stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}

/** The JSON lines a `--json` command printed. */
function events(result: ExecResult): Array<Record<string, unknown>> {
  return result.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function containerAddrs(host: SandboxHost, ns: string): Promise<string[]> {
  const links = (await host.ipJson(['-n', ns, 'addr', 'show', 'dev', 'ceth1'])) as Array<{
    addr_info: Array<{ family: string; local: string; prefixlen: number }>;
  }>;
  return (links[0]?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
}

async function defaultRoutes(host: SandboxHost, ns: string): Promise<Array<{ gateway?: string; dev?: string }>> {
  return (await host.ipJson(['-n', ns, 'route', 'show', 'default'])) as Array<{ gateway?: string; dev?: string }>;
}

describe('single-container applied with its defaults, then with container_cidr=172.16.0.3/24 gateway=172.16.0.3', () => {
  it('without --replace: the plan, exit 2, nothing changed; plan says the same; with --replace: exactly the new address and route, check holds, rollback --all leaves the host as before the first run', async () => {
    await inSandbox(async (host, stateDir) => {
      const sd = ['--state-dir', stateDir];
      const before = await host.snapshot();
      expectExit(await host.runbook([...sd, 'run', 'single-container', ...fast]), 0);
      const [first] = runs(stateDir).map((r) => r.id);
      const applied = await host.snapshot();

      // plan: read-only, and says what --replace would do.
      const plan = await host.runbook([...sd, 'plan', 'single-container', ...fast, ...newValues, '--json']);
      expectExit(plan, 0);
      const changes = JSON.parse(plan.stdout) as {
        needsReplace: boolean;
        replaces: Array<{ runId: string; undo: string[]; takeOver: string[] }>;
        steps: Array<{ stepId: string; action: string }>;
        preconditions: unknown[];
      };
      expect(changes.needsReplace).toBe(true);
      expect(changes.replaces).toEqual([
        expect.objectContaining({
          runId: first,
          undo: ['container-default-route', 'host-route', 'container-address'],
          takeOver: ['namespace', 'veth-pair', 'move-container-end', 'host-end-up', 'container-end-up'],
        }),
      ]);
      expect(changes.steps.map((s) => `${s.stepId} ${s.action}`)).toEqual([
        'namespace keep',
        'veth-pair keep',
        'move-container-end keep',
        'host-end-up keep',
        'container-end-up keep',
        'container-address replace',
        'host-route redo',
        'container-default-route replace',
        'ping-container-from-host replace',
        'ping-host-from-container keep',
      ]);
      expect(changes.preconditions).toEqual([]);
      expect(await host.snapshot()).toEqual(applied);

      // run without --replace: refused with the plan, nothing changed, no run recorded.
      const refused = await host.runbook([...sd, 'run', 'single-container', ...fast, ...newValues]);
      expectExit(refused, 2);
      expect(refused.stdout).toMatch(/^ {2}replace +container-address/m);
      expect(refused.stdout).toContain('- ip -n container1 addr add 172.16.0.2/24 dev ceth1');
      expect(refused.stdout).toContain('+ ip -n container1 addr add 172.16.0.3/24 dev ceth1');
      expect(refused.stderr).toContain(`run ${first} of single-container, with other values, is in effect`);
      expect(refused.stderr).toContain('--replace');
      expect(await host.snapshot()).toEqual(applied);
      expect(runs(stateDir).map((r) => r.status)).toEqual(['succeeded']);

      // --replace: the old address and route are gone, the new ones are there, nothing else.
      const replaced = await host.runbook([...sd, 'run', 'single-container', ...fast, ...newValues, '--replace']);
      expectExit(replaced, 0);
      expect(replaced.stdout).toContain(`replacing run ${first} (other values): undoing 3 step(s)`);
      expect(await containerAddrs(host, 'container1')).toEqual(['172.16.0.3/24']);
      expect(await defaultRoutes(host, 'container1')).toEqual([
        expect.objectContaining({ gateway: '172.16.0.3', dev: 'ceth1' }),
      ]);
      const [, second] = runs(stateDir).map((r) => r.id);
      expect(runs(stateDir).map((r) => [r.id, r.status])).toEqual([
        [first, 'replaced'],
        [second, 'succeeded'],
      ]);
      // Who replaced what: the earlier run's journal, the new run's journal.
      expect(journalLines(stateDir, first!).at(-1)).toMatchObject({ type: 'replaced', by: second });
      expect(journalLines(stateDir, second!)[0]).toMatchObject({ type: 'run-start', replaces: [{ runId: first }] });
      for (const id of journalIds(stateDir)) expect(journalProblem(stateDir, id)).toBeUndefined();

      const check = await host.runbook([...sd, 'check', 'single-container', ...fast, ...newValues]);
      expectExit(check, 0);
      // The old values no longer hold: the host is described by the new run only.
      expectExit(await host.runbook([...sd, 'check', 'single-container', ...fast]), 1);

      const all = await host.runbook([...sd, 'rollback', '--all']);
      expectExit(all, 0);
      expect(await host.snapshot()).toEqual(before);
      expect(runs(stateDir).map((r) => r.status)).toEqual(['replaced', 'rolled-back']);
    });
  });

  it('a plain rollback of the replacing run also leaves the host as before the first run; the replaced one has nothing left', async () => {
    await inSandbox(async (host, stateDir) => {
      const sd = ['--state-dir', stateDir];
      const before = await host.snapshot();
      expectExit(await host.runbook([...sd, 'run', 'single-container', ...fast]), 0);
      expectExit(await host.runbook([...sd, 'run', 'single-container', ...fast, ...newValues, '--replace']), 0);
      const [first] = runs(stateDir).map((r) => r.id);
      expectExit(await host.runbook([...sd, 'rollback']), 0);
      expect(await host.snapshot()).toEqual(before);
      const again = await host.runbook([...sd, 'rollback', first!]);
      expectExit(again, 0);
      expect(again.stdout).toContain('was replaced by a later run');
      // Back to the first values: a fresh run, nothing in effect to replace.
      expectExit(await host.runbook([...sd, 'run', 'single-container', ...fast]), 0);
      expect(await containerAddrs(host, 'container1')).toEqual(['172.16.0.2/24']);
    });
  });
});

describe('multi-container re-applied with another count', () => {
  it('3 → 2 removes container3 and nothing else; 2 → 3 adds it again (no --replace needed)', async () => {
    await inSandbox(async (host, stateDir) => {
      const sd = ['--state-dir', stateDir];
      const before = await host.snapshot();
      expectExit(await host.runbook([...sd, 'run', 'multi-container', '--set', 'count=2']), 0);
      const two = await host.snapshot();
      // 2 → 3: only new steps, nothing undone: no --replace needed.
      const up = await host.runbook([...sd, 'run', 'multi-container', '--set', 'count=3', '--json']);
      expectExit(up, 0);
      const upEnd = events(up).find((e) => e.event === 'run-end') as {
        steps: Array<{ stepId: string; outcome: string }>;
      };
      expect(
        upEnd.steps.filter((s) => s.outcome === 'changed').every((s) => /-3$/.test(s.stepId)),
        JSON.stringify(upEnd.steps),
      ).toBe(true);
      expect(events(up).filter((e) => e.event === 'replace-undo')).toEqual([]);
      const three = await host.snapshot();
      expect((three as { namespaces: string[] }).namespaces).toEqual(['container1', 'container2', 'container3', 'lan']);
      // The bridge keeps its own hardware address as ports come and go: one taken from its lowest
      // port would change with veth3's, and container1's gateway would be unreachable for seconds.
      const [bridge] = (await host.ipJson(['link', 'show', 'dev', 'br0'])) as Array<{ address: string }>;
      expect(bridge?.address).toBe('02:72:62:00:01:01');

      // 3 → 2: refused without --replace; with it, container3's steps only are undone.
      expectExit(await host.runbook([...sd, 'run', 'multi-container', '--set', 'count=2']), 2);
      expect(await host.snapshot()).toEqual(three);
      const down = await host.runbook([...sd, 'run', 'multi-container', '--set', 'count=2', '--replace', '--json']);
      expectExit(down, 0);
      const undone = events(down)
        .filter((e) => e.event === 'replace-undo')
        .map((e) => e.stepId as string);
      expect(undone.length).toBeGreaterThan(0);
      expect(
        undone.filter((id) => !id.endsWith('-3')),
        undone.join(', '),
      ).toEqual([]);
      const downEnd = events(down).find((e) => e.event === 'run-end') as { changed: number };
      expect(downEnd.changed).toBe(0);
      expect(await host.snapshot()).toEqual(two);

      // And back up: the same host as the first 2 → 3.
      expectExit(await host.runbook([...sd, 'run', 'multi-container', '--set', 'count=3']), 0);
      expect(await host.snapshot()).toEqual(three);
      expect(runs(stateDir).map((r) => r.status)).toEqual(['replaced', 'replaced', 'replaced', 'succeeded']);
      expectExit(await host.runbook([...sd, 'rollback']), 0);
      expect(await host.snapshot()).toEqual(before);
    });
  });
});

describe('a replace undoes through rollback, with its guard (issue 22)', () => {
  it('3 → 2 with a link added by hand inside container3: its namespace is not deleted (exit 1, the evidence named), nothing foreign is lost; resume finishes once it is gone', async () => {
    await inSandbox(async (host, stateDir) => {
      const sd = ['--state-dir', stateDir];
      expectExit(await host.runbook([...sd, 'run', 'multi-container', '--set', 'count=2']), 0);
      const two = await host.snapshot();
      expectExit(await host.runbook([...sd, 'run', 'multi-container', '--set', 'count=3']), 0);
      const inside = ['ip', '-n', 'container3', 'link', 'add', 'x-link', 'type', 'veth', 'peer', 'name', 'x-peer'];
      expectExit(await host.exec(inside), 0);

      const down = await host.runbook([...sd, 'run', 'multi-container', '--set', 'count=2', '--replace']);
      expectExit(down, 1);
      expect(down.stderr).toContain(
        'step namespace-3: refused: the namespace container3 holds what this run did not make: ',
      );
      expect(down.stderr).toContain('link x-link (made by no run this host knows of)');
      const links = (await host.ipJson(['-n', 'container3', 'link', 'show'])) as Array<{ ifname: string }>;
      expect(links.map((l) => l.ifname).sort()).toEqual(['lo', 'x-link', 'x-peer']);
      const [three, replacing] = runs(stateDir).slice(-2);
      expect(journalLines(stateDir, three?.id ?? '').some((l) => l.type === 'check' && l.phase === 'undo-guard')).toBe(
        true,
      );
      expect(replacing?.status).toBe('failed');

      expectExit(await host.exec(['ip', '-n', 'container3', 'link', 'del', 'x-link']), 0);
      expectExit(await host.runbook([...sd, 'resume']), 0);
      expect(await host.snapshot()).toEqual(two);
    });
  });
});

describe('preconditions about the host as found', () => {
  it('a subnet already routed elsewhere, a name in use: exit 2, every one named, nothing changed', async () => {
    await inSandbox(async (host, stateDir) => {
      const sd = ['--state-dir', stateDir];
      expectExit(await host.exec(['ip', 'route', 'add', '172.16.0.0/24', 'via', '10.0.0.1', 'dev', 'enp0s8']), 0);
      expectExit(await host.exec(['ip', 'link', 'add', 'name', 'veth1', 'type', 'veth', 'peer', 'name', 'vpeer']), 0);
      const before = await host.snapshot();
      const run = await host.runbook([...sd, 'run', 'single-container', '--json']);
      expectExit(run, 2);
      const error = events(run).find((e) => e.event === 'error') as {
        code: string;
        preconditions: Array<{ steps: string[]; cause: string }>;
      };
      expect(error.code).toBe('precondition-failed');
      expect(error.preconditions.map((p) => `${p.steps.join(',')}: ${p.cause}`)).toEqual([
        "veth-pair: the host already has a link named veth1, and it is not this runbook's veth pair",
        'host-route: the host already routes 172.16.0.0/24 (or a network that holds it) through another link: a route through veth1 would take that traffic over',
        'host-route: the host already routes part of 172.16.0.0/24 through another link: a route through veth1 would take that traffic over',
      ]);
      expect(await host.snapshot()).toEqual(before);
      expect(runs(stateDir)).toEqual([]);

      // plan names the same, exits 1 (a run would be refused), and changes nothing either.
      const plan = await host.runbook([...sd, 'plan', 'single-container']);
      expectExit(plan, 1);
      expect(plan.stdout).toContain('would be refused, nothing changed, by these preconditions about this host:');
      expect(plan.stdout).toContain('- host-route: the host already routes 172.16.0.0/24');
      expect(await host.snapshot()).toEqual(before);
    });
  });

  it('multi-container: names in use by two of its containers, each named at once; a re-run does not trip on its own routes and links', async () => {
    await inSandbox(async (host, stateDir) => {
      const sd = ['--state-dir', stateDir];
      for (const n of [2, 3])
        expectExit(
          await host.exec(['ip', 'link', 'add', 'name', `veth${n}`, 'type', 'veth', 'peer', 'name', `other${n}`]),
          0,
        );
      const before = await host.snapshot();
      const refused = await host.runbook([...sd, 'run', 'multi-container', '--set', 'count=3']);
      expectExit(refused, 2);
      expect(refused.stderr).toContain('2 preconditions');
      expect(refused.stderr).toContain(
        "- veth-pair-2: the host already has a link named veth2, and it is not container2's veth pair",
      );
      expect(refused.stderr).toContain(
        "- veth-pair-3: the host already has a link named veth3, and it is not container3's veth pair",
      );
      expect(await host.snapshot()).toEqual(before);
      for (const n of [2, 3]) expectExit(await host.exec(['ip', 'link', 'del', `veth${n}`]), 0);
      expectExit(await host.runbook([...sd, 'run', 'multi-container', '--set', 'count=2']), 0);
      // Its own bridge, veth2 and route to 172.16.0.0/24 are not "in use": the steps hold.
      const again = await host.runbook([...sd, 'run', 'multi-container', '--set', 'count=2']);
      expectExit(again, 0);
      expect(again.stdout).toContain('nothing to change');
    });
  });
});
