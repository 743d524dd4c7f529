import { statSync } from 'node:fs';
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
    if (token === '--log-level' || token === '--state-dir' || token === '--in') i++;
    else if (!token.startsWith('-')) return token;
  }
  return undefined;
}

/**
 * The command line of a process inside sandbox `inside` (started in its shell), to run right
 * here. `--in NAME` typed inside sandbox NAME (or pasted from a hint meant for outside) needs no
 * reaching in: it runs here, without --in and the outer --state-dir (issue 26). Sandboxes are
 * reached and managed from outside, where they are kept: `--in` another sandbox, and the
 * `runbook sandbox` commands, are refused here (no sandbox is ever made inside a sandbox).
 */
export function commandLineInside(request: InRequest | undefined, argv: readonly string[], inside: string): string[] {
  const leave = `leave this sandbox's shell (exit), then run the command there`;
  if (request !== undefined && request.name !== inside) {
    throw invalidInput(
      `this runs inside sandbox "${inside}": --in ${request.name} reaches a sandbox from outside, where the sandboxes are kept; nothing was changed`,
      `${leave}; for sandbox "${inside}" itself, leave out --in`,
    );
  }
  const args = request?.args ?? [...argv];
  if (commandWord(args) === 'sandbox') {
    throw invalidInput(
      `this runs inside sandbox "${inside}": the \`runbook sandbox\` commands manage sandboxes from outside, where they are kept; nothing was changed`,
      leave,
    );
  }
  return args;
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

/**
 * Markers for a process started inside the sandbox whose network namespace is `netns`, and the
 * working directory it enters first: the caller's (nsenter --mount would start it in `/`, where
 * `./runbooks` and a relative path are not what the user meant).
 */
export function entryMarkers(netns: string): Record<string, string> {
  let cwd: string;
  try {
    cwd = process.cwd();
  } catch {
    // Deleted since the shell entered it: there is no such directory to enter in the sandbox.
    throw invalidInput(
      `your working directory no longer exists (deleted since your shell entered it), so it cannot be entered in the sandbox; nothing was changed`,
      'cd to a directory that exists (cd "$HOME", say), then run it again',
    );
  }
  return {
    [envVar.inNetns]: netns,
    [envVar.inOuterNetns]: currentNetns(),
    [envVar.inCwd]: cwd,
    [envVar.inCwdId]: directoryId(cwd),
  };
}

/** Which directory a path is, across mount namespaces: its device and inode (`stat -c %d:%i`). */
function directoryId(dir: string): string {
  const { dev, ino } = statSync(dir);
  return `${dev}:${ino}`;
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
 * In a process re-executed by --in (or started in a sandbox shell): before anything acts, make
 * sure it really runs in the sandbox's network namespace (not the one it came from), and enter
 * the working directory its user typed it in. Then forget the markers, so that a command started
 * from here (a one-shot --sandbox run, say) is not held to them. Returns the name of the sandbox
 * it is in, or undefined when it was not started into one.
 */
export function assertEnteredSandbox(): string | undefined {
  const expected = readEnv('inNetns');
  const outer = readEnv('inOuterNetns');
  const sandbox = readEnv('sandbox');
  if (expected === undefined && outer === undefined) return undefined;
  const here = currentNetns();
  if (here !== expected || here === outer) {
    throw new RunbookError(
      'wrong-host',
      `refusing to act: this command was to run inside sandbox "${sandbox}" (network namespace ${expected}), but it runs in ${here}; nothing was changed`,
    );
  }
  unsetEnv('inNetns');
  unsetEnv('inOuterNetns');
  enterCallersDirectory(sandbox);
  return sandbox;
}

/**
 * The caller's working directory, entered inside the sandbox (issue 26). The sandbox's mount
 * namespace is a copy of the host's made when the sandbox was: a directory mounted since is not
 * in it, and the command is refused rather than run elsewhere.
 */
function enterCallersDirectory(sandbox: string | undefined): void {
  const cwd = readEnv('inCwd');
  const id = readEnv('inCwdId');
  unsetEnv('inCwd');
  unsetEnv('inCwdId');
  if (cwd === undefined || cwd === '') return;
  let entered = false;
  try {
    process.chdir(cwd);
    entered = id === undefined || directoryId('.') === id;
  } catch {
    // not there: refused below
  }
  if (!entered) {
    throw invalidInput(
      `your working directory ${cwd} is not in sandbox "${sandbox}" as you see it (a file system mounted ` +
        'after the sandbox was created is not in it), so the command would not see what you see there; nothing was changed',
      'run it from a directory the sandbox has too (one on the root file system, such as your checkout), or give paths in full',
    );
  }
}
