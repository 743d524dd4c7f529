import { invalidInput, RunbookError } from '../errors.js';
import { runAttached } from '../exec/attached.js';
import { selfArgv } from '../exec/self.js';
import { envVar, readEnv, unsetEnv } from '../env.js';
import { currentNetns } from '../host/identity.js';
import { requireSandboxCaps } from '../host/privileges.js';
import type { RunStore } from '../store/run-store.js';
import { insideArgv, locateSandbox, requireAlive, type SandboxPaths } from './persistent.js';
import { advice, runbookCommand } from '../suggestion.js';

/**
 * `runbook --in <name> <command…>`: re-executes the CLI inside a persistent sandbox host with
 * `nsenter --net=<file> --mount=<file>`, with that sandbox's state dir and RUNBOOK_SANDBOX=<name>,
 * so that runs made there are recorded as (and bound to) that sandbox's runs.
 */

export interface InRequest {
  name: string;
  /** The outer --state-dir (where the sandboxes are), if given. */
  stateDirOption: string | undefined;
  /** The command line without --in and --state-dir. */
  args: string[];
}

/** Finds `--in NAME` / `--in=NAME` (and the outer `--state-dir`) before any `--`. */
export function extractInOption(argv: readonly string[]): InRequest | undefined {
  const end = argv.indexOf('--') === -1 ? argv.length : argv.indexOf('--');
  const head = argv.slice(0, end);
  if (!head.some((t) => t === '--in' || t.startsWith('--in='))) return undefined;
  let name: string | undefined;
  let stateDirOption: string | undefined;
  const args: string[] = [];
  for (let i = 0; i < head.length; i++) {
    const token = head[i] as string;
    const [flag, inline] =
      token.startsWith('--') && token.includes('=')
        ? [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)]
        : [token, undefined];
    if (flag !== '--in' && flag !== '--state-dir') {
      args.push(token);
      continue;
    }
    const value = inline ?? head[++i];
    if (value === undefined || value === '' || (inline === undefined && value.startsWith('-'))) {
      throw invalidInput(
        `${flag} needs a value${flag === '--in' ? ': the name of a sandbox (runbook sandbox list)' : ''}`,
      );
    }
    if (flag === '--in') {
      if (name !== undefined && name !== value)
        throw invalidInput(`--in given twice (${name}, ${value}): a command runs in one sandbox`);
      name = value;
    } else {
      stateDirOption = value;
    }
  }
  if (name === undefined) return undefined;
  return { name, stateDirOption, args: [...args, ...argv.slice(end)] };
}

/** The subcommand word of a command line (skipping the global options that take no value or one). */
function commandWord(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const token = args[i] as string;
    if (token === '--log-level') i++;
    else if (!token.startsWith('-')) return token;
  }
  return undefined;
}

/**
 * Runs the command line inside the sandbox and returns its exit code (128 + signal number if
 * it was killed). Every environment variable goes through (RUNBOOK_FAULT_KILL, say).
 */
export async function runInSandbox(request: InRequest, outer: RunStore): Promise<number> {
  if (commandWord(request.args) === 'sandbox') {
    throw invalidInput(
      '--in runs a command inside a sandbox; the `runbook sandbox` commands manage sandboxes from outside',
      advice`leave out --in, e.g.: ${runbookCommand('sandbox', 'list')}`,
    );
  }
  const paths = locateSandbox(outer, request.name);
  requireSandboxCaps();
  const { netns } = requireAlive(paths);
  return runInside(paths, selfArgv(['--state-dir', paths.stateDir, ...request.args]), {
    [envVar.sandbox]: paths.name,
    ...entryMarkers(netns),
    ...userOutside(request.stateDirOption === undefined ? undefined : outer.dir),
  });
}

/** Markers for a process started inside the sandbox whose network namespace is `netns`. */
export function entryMarkers(netns: string): Record<string, string> {
  return { [envVar.inNetns]: netns, [envVar.inOuterNetns]: currentNetns() };
}

/**
 * Marks a process inside a sandbox whose user sits outside it (`--in`, `sandbox shell -c`): the
 * commands it suggests must reach in from there, repeating an explicit outer --state-dir.
 */
export function userOutside(stateDirOption: string | undefined): Record<string, string> {
  return {
    [envVar.enteredWith]: 'in',
    ...(stateDirOption === undefined ? {} : { [envVar.outerStateDir]: stateDirOption }),
  };
}

/** Environment of any process acting inside a sandbox: its name (for host binding) and state dir. */
export function sandboxEnv(paths: SandboxPaths): Record<string, string> {
  return { [envVar.sandbox]: paths.name, [envVar.stateDir]: paths.stateDir };
}

/**
 * Runs argv inside the sandbox's namespaces with the terminal attached, and waits. While it
 * runs, Ctrl-C reaches the child through the terminal (this process ignores it) and SIGTERM or
 * SIGHUP sent to this process is passed on, so the child can stop at a safe point.
 */
export async function runInside(
  paths: SandboxPaths,
  argv: readonly string[],
  env: Record<string, string>,
): Promise<number> {
  const { exitCode, message } = await runAttached(insideArgv(paths, argv), env);
  if (exitCode !== undefined) return exitCode;
  throw new RunbookError('internal', `could not enter sandbox "${paths.name}": ${message}`, {
    hint: 'is util-linux (nsenter) installed?',
  });
}

/**
 * In a process re-executed by --in: before anything acts, make sure it really runs in the
 * sandbox's network namespace (not the one it came from). Then forget the markers, so that a
 * command started from here (a one-shot --sandbox run, say) is not held to them.
 */
export function assertEnteredSandbox(): void {
  const expected = readEnv('inNetns');
  const outer = readEnv('inOuterNetns');
  if (expected === undefined && outer === undefined) return;
  const here = currentNetns();
  if (here !== expected || here === outer) {
    throw new RunbookError(
      'wrong-host',
      `refusing to act: this command was to run inside sandbox "${readEnv('sandbox')}" (network namespace ${expected}), but it runs in ${here}; nothing was changed`,
    );
  }
  unsetEnv('inNetns');
  unsetEnv('inOuterNetns');
}
