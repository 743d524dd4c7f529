import { describe, expect, it } from 'vitest';
import { inSandbox, journalLines, runs, type Snapshot } from '../helpers/cli-harness.js';
import type { ExecResult, SandboxHost } from '../helpers/sandbox-host.js';

/**
 * Issue 11: changes stack up, so they are undone in reverse order. A run that stopped (or
 * failed) after making the namespace, then a new run that adopted it and built the rest: rolling
 * the first one back used to delete the namespace the second one stands on, and leave the
 * second recorded "succeeded" with its setup gone. Now rollback refuses, naming the later run,
 * unless it is rolled back first or --force is given. Every run happens inside a SandboxHost.
 */

const ping = ['--set', 'ping_deadline=1'];

function expectExit(result: ExecResult, code: number): void {
  expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(code);
}

/** The id of the latest run in the state dir. */
function latestRun(stateDir: string): string {
  const id = runs(stateDir).at(-1)?.id;
  if (id === undefined) throw new Error(`no run in ${stateDir}`);
  return id;
}

async function namespaces(host: SandboxHost): Promise<string[]> {
  const list = (await host.ipJson(['netns', 'list'])) as Array<{ name: string }>;
  return list.map((n) => n.name).filter((name) => name !== 'lan');
}

/** A stopped after making the namespace; B, a new run, adopted it and made the rest. */
async function stackedRuns(host: SandboxHost, stateDir: string): Promise<{ a: string; b: string; built: Snapshot }> {
  const sd = ['--state-dir', stateDir];
  expectExit(await host.runbook([...sd, 'run', 'single-container', ...ping, '--until', 'namespace']), 0);
  const a = latestRun(stateDir);
  const second = await host.runbook([...sd, 'run', 'single-container', ...ping]);
  expectExit(second, 0);
  expect(second.stdout).toMatch(/ok +namespace/);
  return { a, b: latestRun(stateDir), built: await host.snapshot() };
}

describe('a rollback never takes away what a later run builds on', () => {
  it('refuses to roll back an earlier run a later one adopted from (exit 2, nothing changed); newest first works', async () => {
    await inSandbox(async (host, stateDir) => {
      const sd = ['--state-dir', stateDir];
      const before = await host.snapshot();
      const { a, b, built } = await stackedRuns(host, stateDir);

      const refused = await host.runbook([...sd, 'rollback', a]);
      expectExit(refused, 2);
      expect(refused.stderr).toContain(`refusing to roll back run ${a}: a later run builds on it`);
      expect(refused.stderr).toContain(`${b} (single-container, succeeded: namespace)`);
      expect(refused.stderr).toContain(`runbook --state-dir ${stateDir} rollback ${b}`);
      expect(refused.stderr).toContain('--force');
      expect(refused.stderr).toContain('nothing was changed');
      // Nothing changed: the kernel as B left it, and no rollback attempt in A's journal.
      expect(await host.snapshot()).toEqual(built);
      expect(journalLines(stateDir, a).some((l) => l.type === 'attempt-start')).toBe(false);
      expect(runs(stateDir).map((r) => r.status)).toEqual(['stopped', 'succeeded']);

      // In reverse order it goes: the default target is B (the latest with changes), then A.
      const rollbackB = await host.runbook([...sd, 'rollback']);
      expectExit(rollbackB, 0);
      expect(rollbackB.stdout).toContain(`run ${b} rolled back`);
      expect(await namespaces(host)).toEqual(['container1']); // B found it in place: A made it
      const rollbackA = await host.runbook([...sd, 'rollback', a]);
      expectExit(rollbackA, 0);
      expect(await host.snapshot()).toEqual(before);
      expect(runs(stateDir).map((r) => r.status)).toEqual(['rolled-back', 'rolled-back']);
    });
  });

  it('a stopped run, then a new run that adopted its namespace: even --force never deletes the namespace holding what B made', async () => {
    await inSandbox(async (host, stateDir) => {
      const sd = ['--state-dir', stateDir];
      const before = await host.snapshot();
      // (A run of other values would not be built on but replaced, issue 23: see converge.test.ts.)
      const { a, b } = await stackedRuns(host, stateDir);

      expectExit(await host.runbook([...sd, 'rollback', a]), 2);
      expect(await namespaces(host)).toEqual(['container1']);

      // --force takes away what B found in place, but not what B made inside it (issue 22):
      // the namespace holds B's ceth1, so its deletion is refused, naming B, and nothing is lost.
      const forced = await host.runbook([...sd, 'rollback', a, '--force']);
      expectExit(forced, 1);
      expect(forced.stderr).toContain(
        `stopped at step namespace: refused: the namespace container1 holds what this run did not make: link ceth1 (made by run ${b} of this state dir: single-container, succeeded)`,
      );
      expect(await namespaces(host)).toEqual(['container1']);
      const links = (await host.ipJson(['link', 'show'])) as Array<{ ifname: string }>;
      expect(links.map((l) => l.ifname)).toContain('veth1');
      // In reverse order, both go: B, then A.
      expectExit(await host.runbook([...sd, 'rollback', b]), 0);
      expectExit(await host.runbook([...sd, 'rollback', a]), 0);
      expect(await host.snapshot()).toEqual(before);
    });
  });

  it('the same step is found across runbooks and step ids by its undo, never in the same runbook run with other parameters', async () => {
    await inSandbox(async (host, stateDir) => {
      const sd = ['--state-dir', stateDir];
      const before = await host.snapshot();
      expectExit(await host.runbook([...sd, 'run', 'single-container', ...ping, '--until', 'namespace']), 0);
      const a = latestRun(stateDir);
      // single-container again, for another container: the same step ids, other objects.
      const web9 = ['container=web9', 'host_veth=veth9', 'container_veth=ceth9', 'container_cidr=172.16.9.2/24'];
      const other = ['subnet=172.16.9.0/24', 'gateway=172.16.9.2'];
      const web9Args = [...web9, ...other].flatMap((kv) => ['--set', kv]);
      expectExit(await host.runbook([...sd, 'run', 'single-container', ...ping, ...web9Args]), 0);
      // multi-container adopts container1 as its step namespace-1: both undo `ip netns del container1`.
      expectExit(await host.runbook([...sd, 'run', 'multi-container', '--set', 'count=1']), 0);
      const multi = latestRun(stateDir);

      const refused = await host.runbook([...sd, 'rollback', a]);
      expectExit(refused, 2);
      expect(refused.stderr).toContain('a later run builds on it');
      expect(refused.stderr).toContain(`${multi} (multi-container, succeeded: namespace)`);
      expectExit(await host.runbook([...sd, 'rollback', multi]), 0);
      // Now only the web9 run is later, and it stands on nothing of A's.
      const rolledBack = await host.runbook([...sd, 'rollback', a]);
      expectExit(rolledBack, 0);
      expect(await namespaces(host)).toEqual(['web9']);
      expectExit(await host.runbook([...sd, 'rollback']), 0);
      expect(await host.snapshot()).toEqual(before);
    });
  });

  it('rollback --all still undoes every run, newest first, and leaves the host as it was', async () => {
    await inSandbox(async (host, stateDir) => {
      const sd = ['--state-dir', stateDir];
      const before = await host.snapshot();
      const { a, b } = await stackedRuns(host, stateDir);
      const all = await host.runbook([...sd, 'rollback', '--all']);
      expectExit(all, 0);
      expect(all.stdout.indexOf(`rollback of run ${b}`)).toBeLessThan(all.stdout.indexOf(`rollback of run ${a}`));
      expect(await host.snapshot()).toEqual(before);
      expect(runs(stateDir).map((r) => r.status)).toEqual(['rolled-back', 'rolled-back']);
    });
  });

  it('rollback --all --runbook refuses while a run of another runbook builds on those runs', async () => {
    await inSandbox(async (host, stateDir) => {
      const sd = ['--state-dir', stateDir];
      const before = await host.snapshot();
      const one = ['--set', 'count=1'];
      expectExit(await host.runbook([...sd, 'run', 'multi-container', ...one]), 0);
      // container-internet includes multi-container's steps: it finds them in place, adds NAT.
      // Its ping goes to the sandbox's stand-in for the internet, never to a real address.
      const internet = await host.runbook([
        ...sd,
        'run',
        'container-internet',
        ...one,
        '--set',
        'internet_ip=198.51.100.1',
      ]);
      expectExit(internet, 0);
      const internetRun = latestRun(stateDir);
      const built = await host.snapshot();

      const refused = await host.runbook([...sd, 'rollback', '--all', '--runbook', 'multi-container']);
      expectExit(refused, 2);
      expect(refused.stderr).toContain(`${internetRun} (container-internet, succeeded: `);
      expect(await host.snapshot()).toEqual(built);

      expectExit(await host.runbook([...sd, 'rollback', '--all', '--runbook', 'container-internet']), 0);
      expectExit(await host.runbook([...sd, 'rollback', '--all', '--runbook', 'multi-container']), 0);
      expect(await host.snapshot()).toEqual(before);
    });
  });
});
