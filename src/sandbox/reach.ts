import path from 'node:path';
import type { Plan } from '../plan/plan.js';
import { programsOf } from '../host/preflight.js';

/**
 * What a sandbox host isolates, said plainly (issue 11): it is a network namespace plus a mount
 * namespace with a private /run/netns. Files, and sysctls outside net.*, are the real host's.
 */
export const sandboxIsolation =
  'isolated: the network (links, addresses, routes, iptables, net.* sysctls), /run/netns and /run/runbook-sandbox; ' +
  "NOT isolated: files, and sysctls outside net.*: those are the real host's";

/** Programs that only act on the network namespace they run in. */
const networkOnly = new Set(['ip', 'ping', 'iptables', 'ip6tables', 'iptables-save', 'bridge', 'tc', 'ss']);

/** Programs that act only on the files their arguments name (paths decide where they reach). */
const fileOnly = new Set([
  'cat',
  'grep',
  'tee',
  'cmp',
  'test',
  'mkdir',
  'rm',
  'rmdir',
  'touch',
  'cp',
  'mv',
  'stat',
  'ls',
  'head',
]);

/** Paths that are per network namespace, or the sandbox's own: reading or writing them stays in the sandbox. */
const perNetns = ['/proc/sys/net/', '/proc/net/', '/run/netns/', '/sys/class/net/', '/run/runbook-sandbox/'];

/** The commands of a plan that may reach past the sandbox, each as "step: command". */
export interface Reach {
  /** Commands that change the host (do, undo): they would change the real host's files or sysctls. */
  changing: string[];
  /** Commands that only read (checks, captures, probes): they may read the real host's. */
  reading: string[];
}

/**
 * The commands of a plan that may reach past the sandbox: a program that is neither network-
 * nor file-only (a shell can do anything), a file path outside the per-namespace ones, or a
 * sysctl outside net.*. A one-shot sandbox refuses a runbook whose changing commands reach out
 * (its run could not be rolled back once the sandbox is gone), and warns about reads.
 */
export function reachesOutsideSandbox(plan: Plan): Reach {
  const changing = new Set<string>();
  const reading = new Set<string>();
  for (const step of plan.steps) {
    for (const { argv } of [...step.do, ...step.undo])
      if (mayReachOutside(argv)) changing.add(`${step.id}: ${argv.join(' ')}`);
    const when = step.when === undefined ? [] : [step.when];
    for (const command of [
      ...when,
      ...step.requires,
      ...step.capture,
      ...(step.export ?? []),
      ...step.verify,
      ...step.diagnose,
    ]) {
      // A `read:` check runs no program: only the file it reads can be outside the sandbox.
      const read = 'read' in command ? command.read : undefined;
      const outside = read === undefined ? mayReachOutside(command.argv) : !isPerNetns(read);
      if (outside) reading.add(`${step.id}: ${command.argv.join(' ')}`);
    }
  }
  return { changing: [...changing], reading: [...reading] };
}

/** `test A = B` (and the other comparisons) compares text or numbers: no file is looked at. */
const comparisons = new Set(['=', '!=', '-eq', '-ne', '-lt', '-le', '-gt', '-ge']);

function mayReachOutside(argv: readonly string[]): boolean {
  const program = path.basename(argv[0] ?? '');
  if (program === 'test' && argv.length === 4 && comparisons.has(argv[2] ?? '')) return false;
  if (
    programsOf(argv).some(
      (p) => !networkOnly.has(path.basename(p)) && !fileOnly.has(path.basename(p)) && path.basename(p) !== 'sysctl',
    )
  )
    return true;
  if (program === 'sysctl') return argv.slice(1).some((arg) => !arg.startsWith('-') && !arg.startsWith('net.'));
  const paths = argv.slice(1).filter((arg) => arg.startsWith('/'));
  if (paths.some((arg) => !isPerNetns(arg))) return true;
  // A file program with no absolute path acts on a path relative to the real working directory.
  return fileOnly.has(program) && paths.length === 0;
}

/** Whether a path is one of the per-namespace ones (or such a directory itself: /run/netns). */
function isPerNetns(file: string): boolean {
  return perNetns.some((prefix) => file.startsWith(prefix) || `${file}/` === prefix);
}
