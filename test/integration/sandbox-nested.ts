import { execa } from 'execa';
import { copyFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { runbooksDir } from '../../src/runbook/load.js';
import { type SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';

/**
 * Helpers for the persistent-sandbox tests. Every `runbook sandbox create` runs inside a
 * SandboxHost, so its bind mounts and namespaces are nested in a throwaway mount + network
 * namespace; nothing is mounted or changed in this machine's own namespaces.
 */

/**
 * A copy of a shipped runbook, run by path: a run resumed later must find the runbook text it
 * started with (other work on the checkout may edit runbooks/ while the tests run).
 */
export function pinnedRunbook(stateDir: string, name: string): string {
  const file = path.join(stateDir, `${name}.yaml`);
  copyFileSync(path.join(runbooksDir, `${name}.yaml`), file);
  return file;
}

export function sandboxFiles(stateDir: string, name: string) {
  const dir = path.join(stateDir, 'sandboxes', name);
  return { dir, net: path.join(dir, 'net'), mnt: path.join(dir, 'mnt'), state: path.join(dir, 'state') };
}

/**
 * A view of a persistent sandbox living inside `host`: exec and snapshot run in its network
 * and mount namespaces (SandboxHost's own snapshot code, with exec going through nsenter).
 */
export function insideSandbox(host: SandboxHost, stateDir: string, name: string): SandboxHost {
  const files = sandboxFiles(stateDir, name);
  const view = Object.create(host) as SandboxHost;
  view.exec = (argv, options) =>
    host.exec(['nsenter', `--net=${files.net}`, `--mount=${files.mnt}`, '--', ...argv], options);
  return view;
}

/** Mount points at or under `dir` in the SandboxHost's mount namespace. */
export async function mountsUnder(host: SandboxHost, dir: string): Promise<string[]> {
  const result = await host.exec(['cat', '/proc/self/mountinfo']);
  return result.stdout
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`));
}

export async function netnsNames(view: SandboxHost): Promise<string[]> {
  return ((await view.ipJson(['netns', 'list'])) as Array<{ name: string }>).map((n) => n.name).sort();
}

/** Shows the CLI's output when an exit code is not the expected one. */
export function expectExit(result: ExecResult, code: number): void {
  expect(result.exitCode, `exit code; stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}

/**
 * What this machine's own network and mounts look like, seen from the test process (which is
 * in the machine's namespaces): it must be the same after the tests as before.
 */
export async function machineState(tempRoot: string): Promise<Record<string, unknown>> {
  const links = JSON.parse((await execa('ip', ['-j', 'link'])).stdout) as Array<{ ifname: string; flags: string[] }>;
  const routes = (await execa('ip', ['-4', 'route'])).stdout;
  let netns: string[] = [];
  try {
    netns = readdirSync('/run/netns').sort();
  } catch {
    // no /run/netns: no named namespaces
  }
  const mountinfo = (await execa('cat', ['/proc/self/mountinfo'])).stdout;
  const mountsHere = mountinfo.split('\n').filter((line) => (line.split(' ')[4] ?? '').startsWith(tempRoot));
  return { links: links.map((l) => `${l.ifname} ${l.flags.join(',')}`).sort(), routes, netns, mountsHere };
}
