import { cliPath, SandboxHost, type ExecResult } from './sandbox-host.js';

export type CniSnapshot = { kernel: Record<string, unknown>; iptables: string[] };

/**
 * A snapshot without what the network keeps when its last container leaves (docs/cni.md): the
 * bridge with its address and routes, and the masquerade rule of the subnet.
 */
export function lessWhatIsKept(snapshot: CniSnapshot, bridge: string, subnet: string): CniSnapshot {
  const host = snapshot.kernel.host as { links: Array<{ ifname: string }>; addrs: string[]; routes: string[] };
  return {
    kernel: {
      ...snapshot.kernel,
      host: {
        links: host.links.filter((l) => l.ifname !== bridge),
        addrs: host.addrs.filter((a) => !a.startsWith(`${bridge} `)),
        routes: host.routes.filter((r) => !r.includes(`"dev":"${bridge}"`)),
      },
    },
    iptables: snapshot.iptables.filter((rule) => rule !== `-A POSTROUTING -s ${subnet} -j MASQUERADE`),
  };
}

/**
 * A sandbox host for the CNI tests (issue 25): the tutorial's VM (sandbox-host.ts) whose /run
 * and /var/lib are private tmpfs, so that podman, host-local and the plugin's state write only
 * there and vanish with it. Inside, under `dir`: the plugin installed as a runtime finds it
 * (`bin/runbook-cni`, a link to the CLI, beside the reference plugins of /usr/lib/cni), a
 * containers.conf pointing podman at it, network configurations in `cni/`, and a busybox image
 * imported offline (no registry). Nothing here touches the machine's network or files.
 */
export class CniHost {
  /** Where everything of the test lives, inside the sandbox (a tmpfs). */
  readonly dir = '/run/cni-test';
  /**
   * Where the plugins keep their state (runbook-cni's runs, host-local's allocations): `dir` by
   * default; the bench points it at a directory on disk, where fsync costs what it costs.
   */
  dataRoot = this.dir;

  private constructor(readonly host: SandboxHost) {}

  static async create(options: { podman?: boolean } = {}): Promise<CniHost> {
    const host = await SandboxHost.create({ tmpfs: ['/run', '/var/lib'] });
    const cni = new CniHost(host);
    const d = cni.dir;
    const setup = [
      `mkdir -p ${d}/cni ${d}/bin ${d}/rootfs/bin`,
      `ln -s ${cliPath} ${d}/bin/runbook-cni`,
      `printf '[network]\\ncni_plugin_dirs = ["${d}/bin", "/usr/lib/cni"]\\n' > ${d}/containers.conf`,
    ];
    if (options.podman === true) {
      // The image, made offline from Debian's busybox-static: a root file system of applets.
      setup.push(
        `cp /bin/busybox ${d}/rootfs/bin/`,
        `for c in sh ip ping sleep true cat nc; do ln -s busybox ${d}/rootfs/bin/$c; done`,
        `tar -C ${d}/rootfs -cf ${d}/bb.tar .`,
      );
    }
    const result = await host.exec(['bash', '-c', setup.join(' && ')]);
    if (result.exitCode !== 0) throw new Error(`CNI test host set-up failed: ${result.stderr}`);
    if (options.podman === true) {
      const imported = await cni.podman(['import', `${d}/bb.tar`, 'localhost/bb:1']);
      if (imported.exitCode !== 0) throw new Error(`podman import failed: ${imported.stderr}`);
    }
    return cni;
  }

  /** CNI_PATH as podman gives it: the plugin first, then the reference plugins. */
  get cniPath(): string {
    return `${this.dir}/bin:/usr/lib/cni`;
  }

  /** The plugin configuration of a runbook network (one plugin of a configuration list). */
  runbookPlugin(subnet: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { type: 'runbook-cni', stateDir: `${this.dataRoot}/state`, ipam: this.ipam(subnet), ...extra };
  }

  /** The reference bridge plugin's configuration for the same network (same subnet, gateway, masquerade). */
  bridgePlugin(subnet: string, bridge: string): Record<string, unknown> {
    return { type: 'bridge', bridge, isGateway: true, ipMasq: true, ipam: this.ipam(subnet) };
  }

  /** host-local, its data in the sandbox; the gateway is the subnet's first address. */
  ipam(subnet: string): Record<string, unknown> {
    return {
      type: 'host-local',
      dataDir: `${this.dataRoot}/ipam`,
      ranges: [[{ subnet, gateway: subnet.replace(/\.0\/\d+$/, '.1') }]],
      routes: [{ dst: '0.0.0.0/0' }],
    };
  }

  /** Writes `<dir>/cni/<name>.conflist`, the file podman reads for `--network name`. */
  async writeNetwork(name: string, plugin: Record<string, unknown>, cniVersion = '0.4.0'): Promise<void> {
    const text = JSON.stringify({ cniVersion, name, plugins: [plugin] });
    const result = await this.host.exec(['tee', `${this.dir}/cni/${name}.conflist`], { input: text });
    if (result.exitCode !== 0) throw new Error(`writing the network ${name} failed: ${result.stderr}`);
  }

  /** podman, rootful, with everything it keeps under `dir` and the CNI backend. */
  podman(args: readonly string[], env: Record<string, string> = {}): Promise<ExecResult> {
    const d = this.dir;
    return this.host.exec(
      [
        'podman',
        '--root',
        `${d}/root`,
        '--runroot',
        `${d}/runroot`,
        '--storage-driver',
        'vfs',
        '--cgroup-manager',
        'cgroupfs',
        '--network-backend',
        'cni',
        '--cni-config-dir',
        `${d}/cni`,
        '--runtime',
        'runc',
        ...args,
      ],
      { env: { CONTAINERS_CONF: `${d}/containers.conf`, ...env }, timeoutMs: 120_000 },
    );
  }

  /** The flags every test container needs on this machine (TUTORIAL.md, "Real containers with podman"). */
  readonly runFlags = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', '--cap-add', 'NET_RAW'];

  /**
   * Calls a plugin as a runtime does: the CNI_* variables, the configuration on stdin. `plugin`
   * is `runbook-cni` (ours) or a reference plugin of /usr/lib/cni.
   */
  call(
    plugin: string,
    command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION',
    options: {
      containerId?: string;
      netns?: string;
      ifname?: string;
      config: Record<string, unknown>;
      env?: Record<string, string>;
    },
  ): Promise<ExecResult> {
    const file = plugin === 'runbook-cni' ? `${this.dir}/bin/runbook-cni` : `/usr/lib/cni/${plugin}`;
    return this.host.exec([file], {
      input: JSON.stringify(options.config),
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: options.containerId ?? '',
        CNI_NETNS: options.netns ?? '',
        CNI_IFNAME: options.ifname ?? 'eth0',
        CNI_PATH: this.cniPath,
        ...options.env,
      },
    });
  }

  /** The runbook CLI on a network's state dir. */
  runbook(network: string, args: readonly string[]): Promise<ExecResult> {
    return this.host.runbook(['--state-dir', `${this.dataRoot}/state/${network}`, ...args]);
  }

  /** The addresses host-local holds for a network (its data dir's files, but its lock and bookmark). */
  async allocations(network: string): Promise<string[]> {
    const result = await this.host.exec(['bash', '-c', `ls ${this.dataRoot}/ipam/${network} 2>/dev/null || true`]);
    return result.stdout
      .split('\n')
      .filter((name) => name !== '' && name !== 'lock' && !name.startsWith('last_reserved_ip'))
      .sort();
  }

  /**
   * The host's network state (sandbox-host.ts's snapshot) plus its iptables rules. Without the
   * carrier: a bridge's follows its ports with a delay of up to a second (the kernel's
   * linkwatch), so the same host would read as two; a port left behind shows as a link anyway.
   */
  async snapshot(): Promise<CniSnapshot> {
    const rules = await this.host.exec(['bash', '-c', 'iptables -w 5 -t nat -S && iptables -w 5 -t filter -S']);
    if (rules.exitCode !== 0) throw new Error(`iptables -S failed: ${rules.stderr}`);
    const kernel = await this.host.snapshot();
    for (const [key, state] of Object.entries(kernel)) {
      if (key === 'namespaces') continue;
      const { links, routes } = state as { links: Array<{ flags: string[] }>; routes: string[] };
      for (const link of links) link.flags = link.flags.filter((f) => f !== 'NO-CARRIER' && f !== 'LOWER_UP');
      (state as { routes: string[] }).routes = routes.map((r) => r.replace(/"flags":\["linkdown"\]/, '"flags":[]'));
    }
    return { kernel, iptables: rules.stdout.split('\n').filter(Boolean).sort() };
  }

  dispose(): void {
    this.host.dispose();
  }
}
