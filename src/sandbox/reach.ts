import path from 'node:path';
import type { Plan } from '../runbook/plan.js';
import { programsOf } from '../host/preflight.js';

/**
 * What a sandbox host isolates, said plainly (issue 11): it is a network namespace plus a mount
 * namespace with a private /run/netns. Files, and sysctls outside net.*, are the real host's.
 */
export const sandboxIsolation =
  'isolated: the network (links, addresses, routes, iptables, net.* sysctls), /run/netns and /run/runbook-sandbox; ' +
  "NOT isolated: files, and sysctls outside net.*: those are the real host's";

/** Programs that only act on the network namespace they run in (or on files under it). */
const networkOnly = new Set(['ip', 'ping', 'iptables', 'ip6tables', 'iptables-save', 'bridge', 'tc', 'ss', 'cat']);

/** Paths that are per network namespace: reading or writing them stays in the sandbox. */
const perNetns = ['/proc/sys/net/', '/proc/net/', '/run/netns/', '/sys/class/net/', '/run/runbook-sandbox/'];

/**
 * The commands of a plan that may reach past the sandbox: a program that is not network-only
 * (a shell can do anything), a file path outside the per-namespace ones, or a sysctl outside
 * net.*. Each as "step: command". Used to warn before a --sandbox run, not to forbid it.
 */
export function reachesOutsideSandbox(plan: Plan): string[] {
  const found: string[] = [];
  for (const step of plan.steps) {
    const commands = [...step.requires, ...step.capture, ...step.do, ...step.verify, ...step.undo, ...step.diagnose];
    for (const { argv, read } of commands) {
      // A `read:` check runs no program: only the file it reads can be outside the sandbox.
      const outside = read === undefined ? mayReachOutside(argv) : !isPerNetns(read);
      if (outside) found.push(`${step.id}: ${argv.join(' ')}`);
    }
  }
  return [...new Set(found)];
}

function mayReachOutside(argv: readonly string[]): boolean {
  if (
    programsOf(argv).some((program) => !networkOnly.has(path.basename(program)) && path.basename(program) !== 'sysctl')
  )
    return true;
  if (path.basename(argv[0] ?? '') === 'sysctl') {
    return argv.slice(1).some((arg) => !arg.startsWith('-') && !arg.startsWith('net.'));
  }
  return argv.slice(1).some((arg) => arg.startsWith('/') && !isPerNetns(arg));
}

/** Whether a path is one of the per-namespace ones (or such a directory itself: /run/netns). */
function isPerNetns(file: string): boolean {
  return perNetns.some((prefix) => file.startsWith(prefix) || `${file}/` === prefix);
}
