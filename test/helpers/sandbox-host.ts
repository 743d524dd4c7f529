import { execa, type ResultPromise } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toShellLine } from '../../src/exec/shell-words.js';
import { tutorialHostSetup } from '../../src/sandbox/tutorial-host.js';

/** The built CLI (tests run `npm run build` first through `npm test`). */
export const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/runbook.js');

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * A throwaway host for real-kernel tests: a process in a fresh network + mount namespace
 * (`unshare --net --mount`), set up like the tutorial's VM (see ../shared/TUTORIAL.md). Commands
 * run inside it through `nsenter`, so a test can run the CLI, then look at the kernel, then run
 * the CLI again, all in the same sandbox. Nothing done inside touches the machine's network,
 * and everything vanishes with `dispose()` (the holder process, which we started, is killed).
 */
export class SandboxHost {
  private constructor(
    private readonly holder: ResultPromise,
    readonly pid: number,
  ) {}

  static async create(options: { setUp?: boolean } = {}): Promise<SandboxHost> {
    const setup = options.setUp === false ? tutorialHostSetup.slice(0, 3) : tutorialHostSetup;
    const script = [...setup.map((argv) => toShellLine(argv)), 'echo ready', 'exec sleep 3600'].join(' && ');
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

  /** Runs argv inside the sandbox host. Never throws on a non-zero exit. */
  async exec(
    argv: readonly string[],
    options: { env?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<ExecResult> {
    const result = await execa('nsenter', ['-t', String(this.pid), '-n', '-m', '--', ...argv], {
      reject: false,
      stdin: 'ignore',
      timeout: options.timeoutMs ?? 60_000,
      env: options.env ?? {},
    });
    return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
  }

  /** Runs the runbook CLI inside the sandbox host. */
  runbook(args: readonly string[], options: { env?: Record<string, string> } = {}): Promise<ExecResult> {
    return this.exec([process.execPath, cliPath, ...args], options);
  }

  /** `ip -j …` inside the sandbox, parsed. */
  async ipJson(args: readonly string[]): Promise<unknown> {
    const result = await this.exec(['ip', '-j', ...args]);
    if (result.exitCode !== 0) throw new Error(`ip -j ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout.trim() === '' ? [] : JSON.parse(result.stdout);
  }

  /**
   * The kernel's network state of the host and of every namespace in it, normalized so that
   * two dumps of the same state compare equal (no ifindexes, MAC addresses or timers).
   */
  async snapshot(): Promise<Record<string, unknown>> {
    const namespaces = ((await this.ipJson(['netns', 'list'])) as Array<{ name: string }>).map((n) => n.name).sort();
    const state: Record<string, unknown> = { namespaces };
    for (const ns of ['', ...namespaces]) {
      const prefix = ns === '' ? [] : ['-n', ns];
      const links = (await this.ipJson([...prefix, '-d', 'link'])) as Array<Record<string, unknown>>;
      const addrs = (await this.ipJson([...prefix, 'addr'])) as Array<{
        ifname: string;
        addr_info: Array<Record<string, unknown>>;
      }>;
      const routes = (await this.ipJson([...prefix, 'route', 'show', 'table', 'all'])) as Array<
        Record<string, unknown>
      >;
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

  dispose(): void {
    this.holder.kill('SIGKILL');
  }
}

function byKey(key: string) {
  return (a: Record<string, unknown>, b: Record<string, unknown>) => String(a[key]).localeCompare(String(b[key]));
}
