import { execa, type ResultPromise } from 'execa';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toShellLine } from '../../src/text/shell-words.js';
import { isSameProcess } from '../../src/host/process-start.js';
import { journalIds, journalLines } from '../helpers/cli-harness.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { cliPath, kernelSnapshot, SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';

/**
 * A fleet of tutorial-like hosts on one machine, reached over real SSH (issue 14; recipe in
 * TUTORIAL.md, "Many tutorial-like hosts on one machine"). Everything lives inside one outer
 * sandbox host (`unshare --net --mount`), which plays the Ansible controller:
 *
 *   outer sandbox (controller)  mgN 10.99.N.1/24  ──veth──  enp0s8 10.99.N.2/24 + 10.0.0.10/24  hostN
 *
 * Each hostN is a network namespace with its own mount namespace (a private `ip netns`
 * registry, so host1's container1 is invisible on host2) and its own sshd, which this process
 * starts and ends by its pid. Nothing here touches this machine's network.
 */

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The runbook Ansible collection (issue 24): its source, FQCN prefix and version. */
export const collectionSource = path.join(
  repoRoot,
  'ansible',
  'collections',
  'ansible_collections',
  'runbook_project',
  'runbook',
);
export const collectionName = 'runbook_project.runbook';
export const collectionVersion = '0.1.0';

/** How the module runs runbook on a target: every host shares this file system. */
export const runbookExecutable = `${process.execPath} ${cliPath}`;

export interface FleetHost {
  name: string;
  /** The management address the controller reaches it on. */
  address: string;
  /** The host's own state dir (the module's state_dir). */
  stateDir: string;
}

export class Fleet {
  readonly hosts: FleetHost[] = [];
  private readonly sshds: ResultPromise[] = [];

  private constructor(
    readonly outer: SandboxHost,
    /** A temp dir with the keys, sshd configs, state dirs, inventory and Ansible's files. */
    readonly dir: string,
  ) {}

  /** Creates `count` hosts with an sshd each, ready for ssh once this resolves. */
  static async create(count: number): Promise<Fleet> {
    const outer = await SandboxHost.create({ setUp: false });
    const fleet = new Fleet(outer, tempDir('runbook-fleet-'));
    try {
      await fleet.setUp(count);
      return fleet;
    } catch (error) {
      await fleet.dispose();
      throw error;
    }
  }

  private async setUp(count: number): Promise<void> {
    const { dir, outer } = this;
    await must(execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')], reject0));
    await must(execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'client_key')], reject0));
    const { stdout: pub } = await execa('cat', [path.join(dir, 'client_key.pub')]);
    writeFileSync(path.join(dir, 'authorized_keys'), `${pub}\n`, { mode: 0o600 });
    // sshd's privilege separation needs it (the system sshd is not running: see .ci/run).
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

    const script: string[][] = [];
    for (let n = 1; n <= count; n++) {
      const name = `host${n}`;
      const host: FleetHost = { name, address: `10.99.${n}.2`, stateDir: path.join(dir, `state-${name}`) };
      this.hosts.push(host);
      script.push(
        ['ip', 'netns', 'add', name],
        ['ip', 'link', 'add', `mg${n}`, 'type', 'veth', 'peer', 'name', 'enp0s8', 'netns', name],
        ['ip', 'addr', 'add', `10.99.${n}.1/24`, 'dev', `mg${n}`],
        ['ip', 'link', 'set', `mg${n}`, 'up'],
        ['ip', '-n', name, 'link', 'set', 'lo', 'up'],
        // The tutorial VM's address, so that runbooks run there as on the tutorial's VM.
        ['ip', '-n', name, 'addr', 'add', '10.0.0.10/24', 'dev', 'enp0s8'],
        ['ip', '-n', name, 'addr', 'add', `${host.address}/24`, 'dev', 'enp0s8'],
        // IPv4 only, like the tutorial: no IPv6 link-local routes appearing a moment after the
        // link comes up, which would make two snapshots of the same host differ.
        ['ip', 'netns', 'exec', name, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1'],
        ['ip', '-n', name, 'link', 'set', 'enp0s8', 'up'],
      );
    }
    await must(outer.exec(['bash', '-c', script.map((argv) => toShellLine(argv)).join(' && ')]));
    await this.installCollection();
    await Promise.all(this.hosts.map((host) => this.startSshd(host)));
    for (const host of this.hosts) await this.waitForCarrier(host);
    this.writeInventory();
  }

  /**
   * The kernel marks a veth running (its operstate) a moment after both ends are up: wait for
   * it, so that a test's "before" snapshot of the host is its settled state, not NO-CARRIER.
   */
  private async waitForCarrier(host: FleetHost): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const link = await this.onHost(host, ['ip', '-j', 'link', 'show', 'enp0s8']);
      const [info] = JSON.parse(link.stdout || '[]') as Array<{ flags?: string[] }>;
      if (info?.flags?.includes('LOWER_UP') && !info.flags.includes('NO-CARRIER')) return;
      if (Date.now() > deadline) throw new Error(`enp0s8 of ${host.name} has no carrier: ${link.stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Starts the host's sshd in the foreground (-D), so that its pid is the one we hold. */
  private async startSshd(host: FleetHost): Promise<void> {
    const config = path.join(this.dir, `sshd-${host.name}.conf`);
    writeFileSync(
      config,
      [
        `ListenAddress ${host.address}`,
        `HostKey ${path.join(this.dir, 'host_key')}`,
        `PidFile ${path.join(this.dir, `sshd-${host.name}.pid`)}`,
        `AuthorizedKeysFile ${path.join(this.dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'LogLevel ERROR',
        'Subsystem sftp /usr/lib/openssh/sftp-server',
        '',
      ].join('\n'),
    );
    // nsenter, unshare and sh all exec in place: the pid execa holds ends up being sshd's.
    const mountPrivateNetns = `mount -t tmpfs tmpfs /run/netns && exec /usr/sbin/sshd -D -e -f ${config}`;
    const sshd = execa(
      'nsenter',
      [
        '-t',
        String(this.outer.pid),
        '-m',
        '--',
        'nsenter',
        `--net=/run/netns/${host.name}`,
        '--',
        'unshare',
        '--mount',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        mountPrivateNetns,
      ],
      { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', buffer: false, reject: false },
    );
    this.sshds.push(sshd);
    let stderr = '';
    sshd.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 10_000) stderr += chunk.toString();
    });
    // Ready when the port answers from the controller's side.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = await this.outer.exec(['bash', '-c', `exec 3<>/dev/tcp/${host.address}/22`]);
      if (probe.exitCode === 0) return;
      if (sshd.exitCode !== null || Date.now() > deadline)
        throw new Error(`sshd of ${host.name} did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** An INI inventory: group `fleet`, each host with its address, key and state dir. */
  private writeInventory(): void {
    const lines = ['[fleet]'];
    for (const host of this.hosts) {
      lines.push(`${host.name} ansible_host=${host.address} runbook_state_dir=${host.stateDir}`);
    }
    lines.push(
      '',
      '[fleet:vars]',
      'ansible_user=root',
      `ansible_ssh_private_key_file=${path.join(this.dir, 'client_key')}`,
      'ansible_python_interpreter=/usr/bin/python3',
      `runbook_executable=${runbookExecutable}`,
      '',
    );
    writeFileSync(this.inventory, lines.join('\n'));
  }

  get inventory(): string {
    return path.join(this.dir, 'inventory.ini');
  }

  /**
   * Ansible's environment for this fleet: its own control-path dir (a ControlPersist master
   * left from another test would carry a connection to an old host), its own temp and home
   * dirs, the runbook collection installed from its built tarball, no host-key prompts.
   */
  ansibleEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: this.dir,
      LC_ALL: 'C.UTF-8',
      ANSIBLE_HOME: path.join(this.dir, 'ansible-home'),
      ANSIBLE_LOCAL_TEMP: path.join(this.dir, 'ansible-local'),
      ANSIBLE_REMOTE_TEMP: path.join(this.dir, 'ansible-remote'),
      ANSIBLE_SSH_CONTROL_PATH_DIR: this.controlPathDir,
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      // The runbook collection as built and installed by ansible-galaxy (installCollection).
      ANSIBLE_COLLECTIONS_PATH: this.collectionsDir,
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      // One SSH round trip per task instead of several (no module file copied first).
      ANSIBLE_PIPELINING: 'True',
      ANSIBLE_FORKS: String(Math.max(5, this.hosts.length)),
      ...extra,
    };
  }

  /** Where installCollection put the runbook collection (ANSIBLE_COLLECTIONS_PATH). */
  get collectionsDir(): string {
    return path.join(this.dir, 'collections');
  }

  /** The collection's tarball, as `ansible-galaxy collection build` made it. */
  get collectionTarball(): string {
    return path.join(this.dir, `${collectionName.replace('.', '-')}-${collectionVersion}.tar.gz`);
  }

  /**
   * Builds the runbook collection from ansible/collections with `ansible-galaxy collection
   * build` and installs the tarball with `install --offline` (no Galaxy server is reached), as an
   * operator would: the playbooks then reach the module by its FQCN from the installed copy.
   */
  private async installCollection(): Promise<void> {
    const env = { ...this.ansibleEnv(), ANSIBLE_COLLECTIONS_PATH: '/nonexistent' };
    await must(
      execa('ansible-galaxy', ['collection', 'build', collectionSource, '--output-path', this.dir, '--force'], {
        env,
        extendEnv: false,
        reject: false,
      }),
    );
    await must(
      execa(
        'ansible-galaxy',
        ['collection', 'install', '--offline', '--force', this.collectionTarball, '-p', this.collectionsDir],
        { env, extendEnv: false, reject: false },
      ),
    );
  }

  get controlPathDir(): string {
    return path.join(this.dir, 'cp');
  }

  /** Runs ansible-playbook (or any argv) on the controller, inside the outer sandbox. */
  ansible(argv: readonly string[], extra: Record<string, string> = {}): Promise<ExecResult> {
    return this.outer.exec(
      ['env', '-i', ...Object.entries(this.ansibleEnv(extra)).map(([k, v]) => `${k}=${v}`), ...argv],
      {
        timeoutMs: 300_000,
      },
    );
  }

  /** Runs argv on one host (its network and mount namespaces), as ssh would, but directly. */
  onHost(host: FleetHost, argv: readonly string[]): Promise<ExecResult> {
    const sshd = this.sshds[this.hosts.indexOf(host)];
    if (sshd?.pid === undefined) throw new Error(`no sshd for ${host.name}`);
    // Through sshd's own namespaces: its mount namespace holds the host's private /run/netns.
    return this.outer.exec(['nsenter', '-t', String(sshd.pid), '-n', '-m', '--', ...argv]);
  }

  /** The host's kernel state, read through its sshd's namespaces (its own `ip netns` registry). */
  snapshot(host: FleetHost): Promise<Record<string, unknown>> {
    return kernelSnapshot((argv) => this.onHost(host, argv));
  }

  /** Every host's kernel state, by host name. */
  async snapshots(): Promise<Record<string, Record<string, unknown>>> {
    const all: Record<string, Record<string, unknown>> = {};
    for (const host of this.hosts) all[host.name] = await this.snapshot(host);
    return all;
  }

  /**
   * Closes Ansible's SSH control masters, ends every sshd we started and every watchdog a
   * `confirm_within` apply left on a host (by its recorded pid, checked against its start time),
   * removes the sandbox.
   */
  async dispose(): Promise<void> {
    try {
      for (const host of this.hosts)
        for (const id of journalIds(host.stateDir))
          for (const line of journalLines(host.stateDir, id))
            if (line.type === 'watchdog-started' && isSameProcess(line.pid, line.startTime))
              process.kill(line.pid, 'SIGKILL');
      for (const socket of listDir(this.controlPathDir))
        await this.outer.exec(['ssh', '-S', path.join(this.controlPathDir, socket), '-O', 'exit', 'fleet-host']);
    } finally {
      for (const sshd of this.sshds) sshd.kill('SIGTERM');
      await Promise.all(this.sshds.map((s) => s.catch(() => undefined)));
      this.outer.dispose();
      removeDir(this.dir);
    }
  }
}

const reject0 = { reject: false } as const;

async function must(result: Promise<{ exitCode?: number | undefined; stderr?: unknown }>): Promise<void> {
  const r = await result;
  if (r.exitCode !== 0) throw new Error(`fleet set-up failed: ${String(r.stderr)}`);
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The runs recorded in a host's state dir (from its run indexes), oldest first. */
export function runsOf(host: FleetHost): Array<{ id: string; status: string }> {
  const dir = path.join(host.stateDir, 'runs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as { id: string; status: string });
}
