import { execa, type ResultPromise } from 'execa';
import { chmodSync, mkdtempSync, rmdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toShellLine } from '../../src/text/shell-words.js';
import { tutorialHostSetup } from '../../src/sandbox/tutorial-host.js';

/** The built CLI (tests run `npm run build` first through `npm test`). */
export const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/runbook.js');
const checkoutRoot = path.resolve(path.dirname(cliPath), '..');

/** How a process run in a sandbox host ended (the same shape for the CLI and for `ip`). */
export interface ExecResult {
  /** undefined when the process was killed by a signal. */
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

export interface StartedProcess {
  /** The pid of the process itself (nsenter execs it in place: there is no fork). */
  pid: number;
  done: Promise<ExecResult>;
}

/** Environment of the CLI under test: only PATH (for ip, ping) plus what the test adds, as under sudo. */
function cliEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env };
}

/**
 * Dumps what snapshot() compares, in one process: the namespaces, then the links, addresses and
 * routes of the host ("" namespace) and of each namespace. A failing `ip` fails the script.
 */
const snapshotScript = `
dump() { printf '\\n@@ %s\\n' "$1"; shift; "$@" || exit $?; }
dump netns ip -j netns list
for ns in '' $(ip netns list | cut -d' ' -f1); do
  if [ -z "$ns" ]; then n=(); else n=(-n "$ns"); fi
  dump "links $ns" ip "\${n[@]}" -j -d link show
  dump "addrs $ns" ip "\${n[@]}" -j addr show
  dump "routes $ns" ip "\${n[@]}" -j route show table all
done
`;

/**
 * A throwaway host for real-kernel tests: a process in a fresh network + mount namespace
 * (`unshare --net --mount`), set up like the tutorial's VM (the tutorial's VM, see src/sandbox/tutorial-host.ts). Commands
 * run inside it through `nsenter`, so a test can run the CLI, then look at the kernel, then run
 * the CLI again, all in the same sandbox. Nothing done inside touches the machine's network,
 * and everything vanishes with `dispose()` (the holder process, which we started, is killed).
 */
export class SandboxHost {
  /** Where cliForAnyone bound the checkout, once asked. */
  private anyoneCheckout: string | undefined;

  private constructor(
    private readonly holder: ResultPromise,
    readonly pid: number,
  ) {}

  /**
   * `tmpfs`: existing directories given a private tmpfs first (before the tutorial's set-up), so
   * that what programs write there (podman's /run and /var/lib) stays in the sandbox. Mode 0755,
   * root's, as the real ones: a tmpfs is world-writable by default, and the host lock refuses a
   * /run others can write (src/host/host-lock.ts).
   */
  static async create(options: { setUp?: boolean; tmpfs?: readonly string[] } = {}): Promise<SandboxHost> {
    const setup = options.setUp === false ? tutorialHostSetup.slice(0, 3) : tutorialHostSetup;
    const [rprivate, ...rest] = setup;
    const privateDirs = (options.tmpfs ?? []).map((dir) => ['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', dir]);
    const lines = [rprivate as readonly string[], ...privateDirs, ...rest].map((argv) => toShellLine(argv));
    const script = [...lines, 'echo ready', 'exec sleep 3600'].join(' && ');
    const holder = execa('unshare', ['--net', '--mount', '--propagation', 'private', '--', 'bash', '-c', script], {
      stdin: 'ignore',
      reject: false,
      buffer: false,
    });
    const pid = holder.pid;
    if (pid === undefined) throw new Error('could not start unshare');
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      holder.stdout?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('ready')) resolve();
      });
      holder.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
      void holder.then((r) => reject(new Error(`sandbox host setup failed (exit ${r.exitCode})`)));
    });
    const host = new SandboxHost(holder, pid);
    // Belt and braces: the sandbox must not be the machine's own network namespace.
    const inner = await host.exec(['readlink', '/proc/self/ns/net']);
    const outer = await execa('readlink', ['/proc/self/ns/net']);
    if (inner.stdout.trim() === outer.stdout.trim()) {
      host.dispose();
      throw new Error('sandbox host shares the machine network namespace: refusing to go on');
    }
    return host;
  }

  /**
   * Starts argv inside the sandbox host and returns at once; the one way tests spawn anything
   * in a sandbox. Never throws on a non-zero exit. The environment is explicit: `env` as given
   * (the caller decides what to pass on), nothing inherited.
   */
  start(
    argv: readonly string[],
    options: { env: Record<string, string>; timeoutMs?: number; input?: string | undefined },
  ): StartedProcess {
    const child: ResultPromise = execa('nsenter', ['-t', String(this.pid), '-n', '-m', '--', ...argv], {
      reject: false,
      // Typed lines for a program that reads them (an interactive shell), else nothing.
      ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
      timeout: options.timeoutMs ?? 60_000,
      extendEnv: false,
      env: options.env,
    });
    if (child.pid === undefined) throw new Error(`could not start ${argv.join(' ')} in the sandbox host`);
    const done = child.then((r) => ({
      exitCode: r.exitCode,
      signal: r.signal,
      stdout: String(r.stdout),
      stderr: String(r.stderr),
    }));
    return { pid: child.pid, done };
  }

  /** Runs argv (ip, ping, a shell…) inside the sandbox host, with this process's environment plus `env`. */
  exec(
    argv: readonly string[],
    options: { env?: Record<string, string>; timeoutMs?: number; input?: string | undefined } = {},
  ): Promise<ExecResult> {
    return this.start(argv, { ...options, env: { ...process.env, ...options.env } as Record<string, string> }).done;
  }

  /** Starts the runbook CLI inside the sandbox host, returning at once (to signal it, say). */
  startRunbook(args: readonly string[], options: { env?: Record<string, string> } = {}): StartedProcess {
    return this.start([process.execPath, cliPath, ...args], { env: cliEnv(options.env ?? {}) });
  }

  /** Runs the runbook CLI inside the sandbox host and waits for it: the one CLI runner of the tests. */
  runbook(args: readonly string[], options: { env?: Record<string, string> } = {}): Promise<ExecResult> {
    return this.startRunbook(args, options).done;
  }

  /** `ip -j …` inside the sandbox, parsed. */
  async ipJson(args: readonly string[]): Promise<unknown> {
    const result = await this.exec(['ip', '-j', ...args]);
    if (result.exitCode !== 0) throw new Error(`ip -j ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout.trim() === '' ? [] : JSON.parse(result.stdout);
  }

  /**
   * The kernel's network state of the host and of every namespace in it, normalized so that
   * two dumps of the same state compare equal (no ifindexes, MAC addresses or timers). One
   * nsenter: a small script dumps every table, each after a `@@ <what> <namespace>` line.
   */
  snapshot(): Promise<Record<string, unknown>> {
    return kernelSnapshot((argv) => this.exec(argv));
  }

  /**
   * The CLI's path for a user other than root, as tests play one (uid 65534): the checkout
   * bind-mounted, in this sandbox host's own mount namespace, on a directory anyone may enter.
   * A checkout under a directory only root may enter (a CI clone under /root) is otherwise out
   * of that user's reach, and the test would fail on where it was cloned, not on what it tests.
   */
  async cliForAnyone(): Promise<string> {
    if (this.anyoneCheckout === undefined) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'runbook-checkout-'));
      chmodSync(dir, 0o755);
      this.anyoneCheckout = dir;
      const result = await this.exec(['mount', '--bind', checkoutRoot, dir]);
      if (result.exitCode !== 0) throw new Error(`could not bind the checkout on ${dir}: ${result.stderr}`);
    }
    return path.join(this.anyoneCheckout, path.relative(checkoutRoot, cliPath));
  }

  dispose(): void {
    this.holder.kill('SIGKILL');
    // The bind mount lives only in the sandbox's mount namespace; the empty dir is ours to remove.
    if (this.anyoneCheckout !== undefined) rmdirSync(this.anyoneCheckout);
  }
}

/**
 * The normalized network state (see SandboxHost.snapshot) of any host that `exec` runs commands
 * on: a sandbox host, or a fleet host reached through its sshd's namespaces (test/fleet/).
 */
export async function kernelSnapshot(
  exec: (argv: readonly string[]) => Promise<ExecResult>,
): Promise<Record<string, unknown>> {
  const result = await exec(['bash', '-c', snapshotScript]);
  if (result.exitCode !== 0) throw new Error(`snapshot of the sandbox host failed: ${result.stderr}`);
  const dumps = new Map<string, unknown>();
  for (const part of result.stdout.split('\n@@ ').slice(1)) {
    const newline = part.indexOf('\n');
    const key = newline === -1 ? part : part.slice(0, newline);
    const body = newline === -1 ? '' : part.slice(newline + 1).trim();
    dumps.set(key, body === '' ? [] : JSON.parse(body));
  }
  const dump = <T>(key: string): T => {
    if (!dumps.has(key)) throw new Error(`snapshot of the sandbox host has no "${key}": ${result.stdout}`);
    return dumps.get(key) as T;
  };
  const namespaces = dump<Array<{ name: string }>>('netns')
    .map((n) => n.name)
    .sort();
  const state: Record<string, unknown> = { namespaces };
  for (const ns of ['', ...namespaces]) {
    const links = dump<Array<Record<string, unknown>>>(`links ${ns}`);
    const addrs = dump<Array<{ ifname: string; addr_info: Array<Record<string, unknown>> }>>(`addrs ${ns}`);
    const routes = dump<Array<Record<string, unknown>>>(`routes ${ns}`);
    state[ns === '' ? 'host' : `netns ${ns}`] = {
      links: links
        .map((l) => ({
          ifname: l.ifname,
          flags: l.flags,
          kind: (l.linkinfo as { info_kind?: string } | undefined)?.info_kind,
          master: l.master,
        }))
        .sort(byKey('ifname')),
      addrs: addrs
        .flatMap((a) =>
          a.addr_info.filter((i) => i.scope !== 'link').map((i) => `${a.ifname} ${i.local}/${i.prefixlen}`),
        )
        .sort(),
      routes: routes
        .filter((r) => r.protocol !== 'kernel' || r.type !== 'local')
        .map((r) => JSON.stringify({ ...r, expires: undefined }))
        .sort(),
    };
  }
  return state;
}

function byKey(key: string) {
  return (a: Record<string, unknown>, b: Record<string, unknown>) => String(a[key]).localeCompare(String(b[key]));
}
