/**
 * runbook as a CNI plugin beside the reference bridge plugin (issue 25), both measured in the
 * same run, in one sandbox host (CniHost: podman and both plugins, nothing outside it touched):
 *
 *   - ADD and DEL latency, the plugins called directly as a runtime calls them, alternating
 *     which goes first, at least 20 rounds, medians of wall and CPU time (the plugin and
 *     everything it started);
 *   - `podman run --rm` of a no-op on each network, and with no network, alternating;
 *   - what one ADD leaves in the kernel with each plugin: the links, addresses, routes and
 *     iptables rules it added, on the same subnet, each in a fresh host.
 *
 * Both keep their state on disk (a temp dir), as installed: runbook's journals are fsync'd
 * before each command that changes the host, host-local writes its allocations.
 *
 * The networks have the same shape (a /24, its .1 the gateway on the bridge, masquerade); the
 * latency networks differ in subnet only, so that both exist at once and rounds can alternate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CniHost } from '../test/helpers/cni-host.js';
import { fmt, median, type Row } from './stats.js';

interface Timing {
  ms: number;
  cpuMs: number;
}

const plugins = {
  runbook: { file: 'runbook-cni', network: 'rbbench', subnet: '10.91.0.0/24' },
  bridge: { file: 'bridge', network: 'brbench', subnet: '10.92.0.0/24' },
} as const;
type Plugin = keyof typeof plugins;

function configOf(cni: CniHost, plugin: Plugin, subnet: string, network: string): Record<string, unknown> {
  const body = plugin === 'runbook' ? cni.runbookPlugin(subnet) : cni.bridgePlugin(subnet, `cni-${network}`);
  return { cniVersion: '1.0.0', name: network, ...body };
}

/** Wall and CPU time (bash `times`: every process of the call's tree) of one plugin call. */
async function timeCall(
  cni: CniHost,
  plugin: Plugin,
  command: 'ADD' | 'DEL',
  containerId: string,
  config: Record<string, unknown>,
): Promise<Timing> {
  const file = plugin === 'runbook' ? `${cni.dir}/bin/runbook-cni` : '/usr/lib/cni/bridge';
  const script = '"$@" >/dev/null; s=$?; echo bench-times >&2; times >&2; exit $s';
  const started = performance.now();
  const result = await cni.host.exec(['bash', '-c', script, 'bench', file], {
    input: JSON.stringify(config),
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: `/run/netns/${containerId}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: cni.cniPath,
    },
  });
  const ms = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`${plugin} ${command} failed: ${result.stdout} ${result.stderr}`);
  return { ms, cpuMs: cpuOf(result.stderr) };
}

function cpuOf(stderr: string): number {
  const times = /bench-times\n.*\n(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(stderr);
  if (times === null) throw new Error(`no CPU times: ${stderr}`);
  const [, um, us, sm, ss] = times.map(Number) as [number, number, number, number, number];
  return (um * 60 + us + sm * 60 + ss) * 1000;
}

async function timePodmanRun(cni: CniHost, network: string): Promise<Timing> {
  const started = performance.now();
  const result = await cni.podman(['run', '--rm', '--network', network, ...cni.runFlags, 'localhost/bb:1', 'true']);
  if (result.exitCode !== 0) throw new Error(`podman run on ${network} failed: ${result.stderr}`);
  return { ms: performance.now() - started, cpuMs: NaN };
}

const exec = async (cni: CniHost, argv: string[]) => {
  const result = await cni.host.exec(argv);
  if (result.exitCode !== 0) throw new Error(`${argv.join(' ')} failed: ${result.stderr}`);
};

export async function benchCni(rows: Row[], rounds: number): Promise<void> {
  const n = Math.max(rounds, 20);
  console.log(`CNI: runbook-cni vs the reference bridge plugin, ${n} alternating rounds, one sandbox host with podman`);
  const cni = await CniHost.create({ podman: true });
  // Both plugins keep their state on disk, as installed (runbook's runs, host-local's allocations).
  const disk = mkdtempSync(path.join(tmpdir(), 'runbook-bench-cni-'));
  cni.dataRoot = disk;
  const times: Record<Plugin, { add: Timing[]; del: Timing[]; podman: Timing[] }> = {
    runbook: { add: [], del: [], podman: [] },
    bridge: { add: [], del: [], podman: [] },
  };
  const none: Timing[] = [];
  try {
    for (const plugin of ['runbook', 'bridge'] as const) {
      const { network, subnet } = plugins[plugin];
      const config = configOf(cni, plugin, subnet, network);
      await cni.writeNetwork(network, configOf(cni, plugin, subnet, network), '1.0.0');
      // The first ADD makes the network (the bridge, its address, the masquerade): not timed.
      await exec(cni, ['ip', 'netns', 'add', `warm-${plugin}`]);
      await timeCall(cni, plugin, 'ADD', `warm-${plugin}`, config);
      await timeCall(cni, plugin, 'DEL', `warm-${plugin}`, config);
    }
    for (let round = 0; round < n; round++) {
      const order: Plugin[] = round % 2 === 0 ? ['runbook', 'bridge'] : ['bridge', 'runbook'];
      for (const plugin of order) {
        const { network, subnet } = plugins[plugin];
        const config = configOf(cni, plugin, subnet, network);
        const id = `${plugin}${round}`;
        await exec(cni, ['ip', 'netns', 'add', id]);
        times[plugin].add.push(await timeCall(cni, plugin, 'ADD', id, config));
        times[plugin].del.push(await timeCall(cni, plugin, 'DEL', id, config));
        await exec(cni, ['ip', 'netns', 'del', id]);
      }
      const last = (plugin: Plugin, what: 'add' | 'del') => times[plugin][what].at(-1) as Timing;
      console.log(
        `  round ${round + 1}: ADD runbook ${fmt(last('runbook', 'add').ms)} ms (cpu ${fmt(last('runbook', 'add').cpuMs)}), bridge ${fmt(last('bridge', 'add').ms)} (cpu ${fmt(last('bridge', 'add').cpuMs)}); ` +
          `DEL runbook ${fmt(last('runbook', 'del').ms)} (cpu ${fmt(last('runbook', 'del').cpuMs)}), bridge ${fmt(last('bridge', 'del').ms)} (cpu ${fmt(last('bridge', 'del').cpuMs)})`,
      );
    }
    for (let round = 0; round < n; round++) {
      const sides = [
        async () => times.runbook.podman.push(await timePodmanRun(cni, plugins.runbook.network)),
        async () => times.bridge.podman.push(await timePodmanRun(cni, plugins.bridge.network)),
        async () => none.push(await timePodmanRun(cni, 'none')),
      ];
      for (let i = 0; i < sides.length; i++) await (sides[(i + round) % sides.length] as () => Promise<number>)();
      console.log(
        `  podman run --rm, round ${round + 1}: runbook ${fmt(times.runbook.podman.at(-1)?.ms ?? NaN)} ms, bridge ${fmt(times.bridge.podman.at(-1)?.ms ?? NaN)}, no network ${fmt(none.at(-1)?.ms ?? NaN)}`,
      );
    }
  } finally {
    cni.dispose();
    rmSync(disk, { recursive: true, force: true });
  }

  const med = (list: Timing[], key: keyof Timing) => median(list.map((t) => t[key]));
  for (const [what, key, goal] of [
    ['ADD', 'add', 3],
    ['DEL', 'del', 3],
  ] as const) {
    const ours = times.runbook[key];
    const theirs = times.bridge[key];
    rows.push({
      what: `CNI ${what}, runbook-cni vs bridge: wall ms / CPU ms (medians of ${n})`,
      figure: `${fmt(med(ours, 'ms'))} vs ${fmt(med(theirs, 'ms'))} / ${fmt(med(ours, 'cpuMs'))} vs ${fmt(med(theirs, 'cpuMs'))}`,
      goal: '',
      met: undefined,
    });
    const wall = med(ours, 'ms') / med(theirs, 'ms');
    rows.push({
      what: `CNI ${what} / bridge: wall ratio (CPU ratio)`,
      figure: `${fmt(wall, 2)}x (${fmt(med(ours, 'cpuMs') / med(theirs, 'cpuMs'), 2)}x)`,
      goal: `wall <= ${goal}x`,
      met: wall <= goal,
    });
  }
  const podman = med(times.runbook.podman, 'ms') / med(times.bridge.podman, 'ms');
  rows.push({
    what: `podman run --rm: runbook-cni / bridge / no network, wall ms (medians of ${n})`,
    figure: `${fmt(med(times.runbook.podman, 'ms'))} / ${fmt(med(times.bridge.podman, 'ms'))} / ${fmt(median(none.map((t) => t.ms)))}`,
    goal: '',
    met: undefined,
  });
  rows.push({
    what: 'podman run --rm, runbook-cni / bridge: wall ratio',
    figure: `${fmt(podman, 2)}x`,
    goal: 'wall <= 1.2x',
    met: podman <= 1.2,
  });

  await printKernelDiff();
}

/** What one ADD adds to the kernel with each plugin, on the same subnet, each in a fresh host. */
async function printKernelDiff(): Promise<void> {
  console.log(
    '\nwhat one ADD leaves in the kernel (10.93.0.0/24, gateway .1 on the bridge, masquerade), each plugin in a fresh host:',
  );
  for (const plugin of ['runbook', 'bridge'] as const) {
    const cni = await CniHost.create();
    try {
      const config = configOf(cni, plugin, '10.93.0.0/24', 'kdiff');
      const before = await cni.snapshot();
      await exec(cni, ['ip', 'netns', 'add', 'c1']);
      await timeCall(cni, plugin, 'ADD', 'c1', config);
      const after = await cni.snapshot();
      const forward = await cni.host.exec(['cat', '/proc/sys/net/ipv4/ip_forward']);
      console.log(`  ${plugin}:`);
      for (const line of diffLines(before, after)) console.log(`    ${line}`);
      console.log(`    net.ipv4.ip_forward = ${forward.stdout.trim()}`);
    } finally {
      cni.dispose();
    }
  }
}

/** The entries of `after` not in `before`, one a line: links, addresses, routes, rules. */
function diffLines(
  before: Awaited<ReturnType<CniHost['snapshot']>>,
  after: Awaited<ReturnType<CniHost['snapshot']>>,
): string[] {
  const flatten = (snapshot: Awaited<ReturnType<CniHost['snapshot']>>): string[] => {
    const lines: string[] = [];
    for (const [where, state] of Object.entries(snapshot.kernel)) {
      if (where === 'namespaces') continue;
      const { links, addrs, routes } = state as { links: unknown[]; addrs: string[]; routes: string[] };
      for (const link of links) lines.push(`${where} link ${JSON.stringify(link)}`);
      for (const addr of addrs) lines.push(`${where} addr ${addr}`);
      for (const route of routes) {
        const r = JSON.parse(route) as Record<string, unknown>;
        if (r.table === 'local' || String(r.dst).includes(':')) continue; // kernel-made local and IPv6 routes
        lines.push(`${where} route ${route}`);
      }
    }
    return [...lines, ...snapshot.iptables.map((rule) => `iptables ${rule}`)];
  };
  const old = new Set(flatten(before));
  return flatten(after).filter((line) => !old.has(line));
}
