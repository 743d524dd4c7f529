import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { JournalLine } from '../../src/journal/entries.js';
import { journalIds, journalLines, runs } from '../helpers/cli-harness.js';
import { SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 28's "Done when": the four setups that round one's author had to work around the format
 * for (a VXLAN trunk, port forwarding to a container with a real TCP listener, policy routing
 * over two uplinks, containers with pinned MACs and neighbour entries), written with the format
 * alone (test/fixtures/runbooks/, not shipped), each through run / kill / resume / rollback on a
 * real kernel in a sandbox host:
 *
 *   1. a full run, then its rollback: the sandbox exactly as before (links, addresses, routes,
 *      rules, neighbour entries, iptables, sysctls, processes);
 *   2. a run killed right after the step that exports a value (before the step that uses it),
 *      then `resume`: it finishes with the value the journal holds, never read again;
 *   3. a second run: every step already holds, nothing changes;
 *   4. `rollback`: the sandbox exactly as before.
 */

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'runbooks');

let host: SandboxHost | undefined;
let stateDir: string | undefined;

afterEach(async () => {
  // A background process the run started lives on in the sandbox's namespaces: end each one,
  // by its id (they are all this test's), before the sandbox host goes.
  if (host !== undefined) {
    for (const pid of await sandboxPids(host)) if (pid !== host.pid) tryKill(pid);
    host.dispose();
  }
  if (stateDir !== undefined) removeDir(stateDir);
  host = undefined;
  stateDir = undefined;
});

function tryKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** Every process in the sandbox host's network namespaces (its own and the ones made in it). */
async function sandboxPids(sandbox: SandboxHost): Promise<number[]> {
  const listed = await sandbox.exec([
    'bash',
    '-c',
    'for ns in $(ip netns list | cut -d" " -f1); do ip netns pids "$ns"; done; ' +
      'me=$(readlink /proc/self/ns/net); for p in /proc/[0-9]*; do [ "$(readlink $p/ns/net 2>/dev/null)" = "$me" ] && echo ${p#/proc/}; done; true',
  ]);
  return listed.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** The programs running in the sandbox besides its holder and the command that lists them. */
async function sandboxPrograms(sandbox: SandboxHost): Promise<string[]> {
  const programs: string[] = [];
  for (const pid of await sandboxPids(sandbox)) {
    if (pid === sandbox.pid) continue;
    const cmd = await sandbox.exec(['cat', `/proc/${pid}/cmdline`]);
    const argv = cmd.stdout.split('\0').filter(Boolean);
    if (cmd.exitCode !== 0 || argv.length === 0) continue; // ended meanwhile
    if (argv[0] === 'bash' || argv[0] === 'cat' || argv[0]?.endsWith('/cat')) continue; // this listing
    programs.push(argv.join(' '));
  }
  return programs.sort();
}

/**
 * What the four runbooks touch, beyond the links, addresses and routes of SandboxHost.snapshot:
 * policy rules, permanent neighbour entries, iptables, the sysctls they set, and the programs
 * running in the sandbox.
 */
async function fullSnapshot(sandbox: SandboxHost): Promise<Record<string, unknown>> {
  const run = async (argv: string[]) => {
    const result = await sandbox.exec(argv);
    expect(result.exitCode, `${argv.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  };
  const namespaces = (await run(['ip', 'netns', 'list']))
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean)
    .sort();
  // Permanent entries, MACs masked (a link made again has a new random MAC; the tests check the
  // MACs that matter on their own), in order.
  const neighbours: Record<string, string[]> = {};
  const masked = (text: string) =>
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/lladdr \S+/, 'lladdr <mac>').trim())
      .sort();
  for (const ns of ['', ...namespaces])
    neighbours[ns || 'host'] = masked(
      await run(
        ns === '' ? ['ip', 'neigh', 'show', 'nud', 'permanent'] : ['ip', '-n', ns, 'neigh', 'show', 'nud', 'permanent'],
      ),
    );
  // The rules of every table (a table once used stays listed, empty: that is no change).
  let table = '';
  const iptables: string[] = [];
  for (const line of (await run(['iptables-save'])).split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith('-')) iptables.push(`${table} ${line}`);
  }
  const sysctls = await run([
    'sysctl',
    'net.ipv4.ip_forward',
    'net.ipv4.conf.all.rp_filter',
    'net.ipv4.conf.all.arp_ignore',
  ]);
  return {
    kernel: await sandbox.snapshot(),
    rules: await run(['ip', 'rule', 'show']),
    neighbours,
    iptables,
    sysctls,
    programs: await sandboxPrograms(sandbox),
  };
}

function expectExit(result: ExecResult, code: number): void {
  expect(result.exitCode, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}

interface Setup {
  name: string;
  /** --set flags for a sandbox host of the tests (not a runbook sandbox: no sandbox defaults). */
  set: string[];
  /** The step that exports a value, and the first step that uses it. */
  exporter: string;
  consumer: string;
  /** The name of the value exported. */
  exported: string;
  /** How the value appears in the commands of the step that uses it (a part of it, with a helper). */
  seenAs?: (value: string) => string;
  /** Used in an expectation, not in a command: what the output that matched must contain. */
  matched?: (value: string) => string;
  /** What the test host needs before the run (a second uplink for policy routing). */
  prepare?: (sandbox: SandboxHost) => Promise<void>;
  /** Extra assertions once the run has finished (by resume). */
  afterRun?: (sandbox: SandboxHost, lines: readonly JournalLine[]) => Promise<void>;
  /** Set up before the last rollback; the function it returns asserts after it. */
  aroundRollback?: (sandbox: SandboxHost, lines: readonly JournalLine[]) => Promise<() => Promise<void>>;
}

const setups: Setup[] = [
  {
    name: 'vxlan-trunk',
    set: [],
    exporter: 'remote-segment-blue',
    consumer: 'pin-remote-blue',
    exported: 'remote_mac',
    afterRun: async (sandbox) => {
      // Each segment is a VXLAN network of its own VNI, reached over the one underlay.
      const links = (await sandbox.ipJson(['-d', 'link', 'show', 'type', 'vxlan'])) as Array<{
        ifname: string;
        linkinfo: { info_data: { id: number } };
      }>;
      expect(links.map((l) => [l.ifname, l.linkinfo.info_data.id]).sort()).toEqual([
        ['vx-blue', 100],
        ['vx-green', 200],
      ]);
      expectExit(await sandbox.exec(['ping', '-c1', '-W1', '-I', 'vx-green', '10.200.0.2']), 0);
    },
  },
  {
    name: 'port-forward',
    set: ['--set', 'client=lan', '--set', 'run_dir=/run/runbook-sandbox/port-forward'],
    exporter: 'server-web',
    consumer: 'served-web',
    exported: 'pid',
    // `ss` names the process on the port: it must be the one the journal says this run started.
    matched: (pid) => `pid=${pid},`,
    afterRun: async (sandbox) => {
      // From the uplink's network, through the forwarded port: the container's web server answers.
      const get = await sandbox.exec([
        'ip',
        'netns',
        'exec',
        'lan',
        '/usr/bin/python3',
        '-c',
        'import urllib.request; print(urllib.request.urlopen("http://10.0.0.10:8081/", timeout=2).read().decode())',
      ]);
      expectExit(get, 0);
      expect(get.stdout).toContain('hello');
    },
    // Item 6: the undo stops exactly the process the run started, never another of the same
    // name: here one of the same program, with the same code, started outside the run.
    aroundRollback: async (sandbox, lines) => {
      const ours = lines
        .filter((l) => l.type === 'export' && l.name === 'pid')
        .map((l) => Number((l as { value: string }).value));
      expect(ours).toHaveLength(2);
      const start = lines.find((l) => l.type === 'command-start' && l.step === 'server-web' && l.phase === 'do');
      const server = start?.type === 'command-start' ? start.argv : [];
      const code = server[server.indexOf('-c') + 1] as string;
      const other = sandbox.start(['/usr/bin/python3', '-c', code, '127.0.0.1', '8099'], {
        env: { PATH: process.env.PATH ?? '' },
      });
      // Running, not a zombie waiting for its reaper (which a stopped daemon's parent, init, may be slow to be).
      const alive = (pid: number) => {
        try {
          return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
        } catch {
          return false;
        }
      };
      for (const pid of ours) expect(alive(pid)).toBe(true);
      expect(alive(other.pid)).toBe(true);
      return async () => {
        expect(alive(other.pid), 'the same-named process started outside the run was stopped').toBe(true);
        for (const pid of ours) expect(alive(pid), `the run's own server ${pid} is still running`).toBe(false);
        process.kill(other.pid, 'SIGKILL');
        await other.done;
      };
    },
  },
  {
    name: 'policy-routing',
    set: ['--set', 'target=198.51.100.1'],
    exporter: 'uplink-up2',
    consumer: 'table-up2',
    exported: 'address',
    // {{address.address}} and {{address.subnet}}: 10.1.0.10 and 10.1.0.0/24 of 10.1.0.10/24.
    seenAs: (value) => value.split('/')[0] as string,
    prepare: async (sandbox) => {
      // A second uplink: up2 (10.1.0.10/24) to a second "internet provider" (10.1.0.1), which
      // also answers for the stand-in internet address.
      for (const argv of [
        ['ip', 'netns', 'add', 'isp2'],
        ['ip', 'link', 'add', 'up2', 'type', 'veth', 'peer', 'name', 'isp0', 'netns', 'isp2'],
        ['ip', 'addr', 'add', '10.1.0.10/24', 'dev', 'up2'],
        ['ip', 'link', 'set', 'up2', 'up'],
        ['ip', '-n', 'isp2', 'addr', 'add', '10.1.0.1/24', 'dev', 'isp0'],
        ['ip', '-n', 'isp2', 'link', 'set', 'isp0', 'up'],
        ['ip', '-n', 'isp2', 'link', 'set', 'lo', 'up'],
        ['ip', '-n', 'isp2', 'addr', 'add', '198.51.100.1/32', 'dev', 'lo'],
      ])
        expectExit(await sandbox.exec(argv), 0);
    },
    afterRun: async (sandbox) => {
      const via = async (source: string) =>
        (await sandbox.ipJson(['route', 'get', '198.51.100.1', 'from', source])) as Array<{
          gateway: string;
          dev: string;
        }>;
      expect((await via('10.0.0.10'))[0]).toMatchObject({ gateway: '10.0.0.1', dev: 'enp0s8' });
      expect((await via('10.1.0.10'))[0]).toMatchObject({ gateway: '10.1.0.1', dev: 'up2' });
    },
  },
  {
    name: 'pinned-macs',
    set: [],
    exporter: 'gateway-mac',
    consumer: 'gateway-neighbour-web',
    exported: 'bridge_mac',
    afterRun: async (sandbox, lines) => {
      // The containers' entries for their gateway hold the MAC the journal recorded, which is
      // the bridge's; with ARP answered by nobody, the pings of the run went over them alone.
      const exported = lines.find((l) => l.type === 'export' && l.name === 'bridge_mac') as { value: string };
      const bridge = (await sandbox.ipJson(['link', 'show', 'dev', 'br0'])) as Array<{ address: string }>;
      expect(bridge[0]?.address).toBe(exported.value);
      for (const ns of ['web', 'db']) {
        const entry = (await sandbox.ipJson(['-n', ns, 'neigh', 'show', '172.16.0.1', 'dev', 'eth0'])) as Array<{
          lladdr: string;
          state: string[];
        }>;
        expect(entry[0]).toMatchObject({ lladdr: exported.value, state: ['PERMANENT'] });
      }
    },
  },
];

describe("issue 28's four setups, written with the format alone, on a real kernel", () => {
  it.each(setups.map((s) => [s.name, s] as const))(
    '%s: run and rollback, a run killed after its export resumed with the journaled value, run again, rolled back exactly',
    async (name, setup) => {
      host = await SandboxHost.create();
      stateDir = tempDir();
      const sandbox = host;
      const file = path.join(fixtures, `${name}.yaml`);
      const runbook = (args: string[], env: Record<string, string> = {}) =>
        sandbox.runbook(['--state-dir', stateDir as string, ...args], { env });
      await setup.prepare?.(sandbox);
      const before = await fullSnapshot(sandbox);

      // 1. A whole run, and its rollback.
      const whole = await runbook(['run', file, ...setup.set]);
      expectExit(whole, 0);
      const wholeId = journalIds(stateDir).at(-1) as string;
      const wholeLines = journalLines(stateDir, wholeId);
      expect(wholeLines.some((l) => l.type === 'final-pass-end' && l.status === 'held')).toBe(true);
      const end = await fullSnapshot(sandbox);
      expectExit(await runbook(['rollback', wholeId]), 0);
      expect(await fullSnapshot(sandbox)).toEqual(before);

      // 2. Killed right after the exporting step ended: the value is in the journal, the step
      // that uses it has not started.
      const killed = await runbook(['run', file, ...setup.set], {
        RUNBOOK_FAULT_KILL: `after:step-end:${setup.exporter}`,
      });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      const runId = journalIds(stateDir).at(-1) as string;
      const atKill = journalLines(stateDir, runId);
      expect(atKill.at(-1)).toMatchObject({ type: 'step-end', step: setup.exporter });
      const journaled = atKill.filter(
        (l) => l.type === 'export' && l.step === setup.exporter && l.name === setup.exported,
      );
      expect(journaled).toHaveLength(1);
      const value = (journaled[0] as { value: string }).value;

      const resumed = await runbook(['resume']);
      expectExit(resumed, 0);
      const lines = journalLines(stateDir, runId);
      // Never read again: the exporting step was not run by the resume, and the step that uses
      // the value ran its commands with the journaled one.
      expect(lines.filter((l) => l.type === 'export' && l.step === setup.exporter)).toHaveLength(journaled.length);
      const used = lines.filter((l) => l.type === 'command-start' && l.step === setup.consumer);
      expect(used.length).toBeGreaterThan(0);
      expect(JSON.stringify(used)).not.toContain(`{{${setup.exported}}}`);
      if (setup.matched === undefined) expect(JSON.stringify(used)).toContain(setup.seenAs?.(value) ?? value);
      else {
        const consumed = lines.filter(
          (l) => (l.type === 'check' || l.type === 'command-end') && l.step === setup.consumer,
        );
        expect(consumed.filter((l) => l.type === 'check').every((l) => l.ok)).toBe(true);
        expect(consumed.some((l) => l.type === 'command-end' && l.stdout.includes(setup.matched?.(value) ?? ''))).toBe(
          true,
        );
      }
      expect(lines.at(-1)).toMatchObject({ type: 'run-end', status: 'succeeded' });
      expect(await fullSnapshot(sandbox)).toEqual(end);
      await setup.afterRun?.(sandbox, lines);

      // 3. Again: everything holds, nothing changes.
      const again = await runbook(['run', file, ...setup.set, '--json']);
      expectExit(again, 0);
      const summary = JSON.parse(again.stdout.trim().split('\n').at(-1) as string) as { changed: number };
      expect(summary.changed).toBe(0);
      expect(await fullSnapshot(sandbox)).toEqual(end);

      // 4. Rolled back: exactly as before, every run done with.
      const afterRollback = await setup.aroundRollback?.(sandbox, lines);
      expectExit(await runbook(['rollback', runId]), 0);
      await afterRollback?.();
      expect(await fullSnapshot(sandbox)).toEqual(before);
      expect(runs(stateDir).find((r) => r.id === runId)?.status).toBe('rolled-back');
    },
    120_000,
  );
});
