import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { invalidInput } from '../errors.js';
import { readEnv } from '../env.js';
import type { PlannedStep } from '../plan/plan.js';
import type { Executor } from '../exec/types.js';

/**
 * The Debian package that provides each program the shipped runbooks (and their tests) use,
 * so that "not installed" comes with what to install.
 */
const debianPackage: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  bridge: 'iproute2',
  tc: 'iproute2',
  ss: 'iproute2',
  ping: 'iputils-ping',
  iptables: 'iptables',
  'iptables-save': 'iptables',
  ip6tables: 'iptables',
  sysctl: 'procps',
  pgrep: 'procps',
  nsenter: 'util-linux',
  unshare: 'util-linux',
  mount: 'mount',
  cat: 'coreutils',
  sleep: 'coreutils',
  test: 'coreutils',
  true: 'coreutils',
  false: 'coreutils',
  sh: 'dash',
  bash: 'bash',
  grep: 'grep',
  dot: 'graphviz',
  'start-stop-daemon': 'dpkg',
  python3: 'python3',
};

/** The programs a command runs: its first word, and what `ip netns exec NS` runs inside. */
export function programsOf(argv: readonly string[]): string[] {
  const [program, ...rest] = argv;
  if (program === undefined) return [];
  const programs = [program];
  // `ip [options] netns exec NAME PROGRAM …` runs PROGRAM too, inside the namespace.
  const netns = rest.indexOf('netns');
  if (path.basename(program) === 'ip' && netns >= 0 && rest[netns + 1] === 'exec' && rest[netns + 3] !== undefined)
    programs.push(...programsOf(rest.slice(netns + 3)));
  return programs;
}

/**
 * Every argv a step may run: when, requires, capture, export, do, verify, undo (and their
 * conditions), probes.
 * A `read:` check runs no program (the engine reads the file itself), so it is not among them.
 */
export function commandsOf(step: PlannedStep): Array<readonly string[]> {
  return [
    ...(step.when === undefined ? [] : [step.when]),
    ...step.requires,
    ...step.capture,
    ...(step.export ?? []),
    ...step.verify,
    ...step.diagnose,
    // A do or undo command's `if` / `unless` condition runs a command too.
    ...[...step.do, ...step.undo].flatMap((command) =>
      command.condition === undefined ? [command] : [command, command.condition],
    ),
  ].flatMap(spawned);
}

/**
 * A command's argv when it spawns a program, as a list (empty for a `read:` check, which
 * runs none: the engine reads the file itself, so no `cat` is demanded of the host).
 */
export function spawned(command: { argv: readonly string[]; read?: string | undefined }): Array<readonly string[]> {
  return command.read === undefined ? [command.argv] : [];
}

/** Whether `program` would start: found on PATH (or, with a "/", at that path) and executable. */
export function resolvesOnPath(program: string, searchPath = readEnv('path') ?? ''): boolean {
  const candidates = program.includes('/')
    ? [program]
    : searchPath
        .split(path.delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => path.join(dir, program));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/**
 * Preflight: every program the commands name must resolve on PATH before anything runs, or
 * the command ends with exit 2 naming each missing program and the package that provides it.
 * Without it a missing `ping` was found after 8 steps had changed the host (issue 11).
 */
export function requirePrograms(executor: Executor, commands: ReadonlyArray<readonly string[]>, what: string): void {
  const missing = missingPrograms(executor, commands);
  if (missing.length === 0) return;
  throw invalidInput(
    `${what} needs ${missing.length === 1 ? 'a program' : 'programs'} not found on PATH: ${namedPrograms(missing).join(', ')}; nothing was changed`,
    installHint(missing),
  );
}

/** The programs the commands run that are not found on PATH, sorted (none for a test's fake executor). */
export function missingPrograms(executor: Executor, commands: ReadonlyArray<readonly string[]>): string[] {
  const resolves = executor.resolves?.bind(executor);
  if (resolves === undefined) return []; // an executor that does not spawn programs (a test's fake)
  return [...new Set(commands.flatMap(programsOf))].filter((program) => !resolves(program)).sort();
}

/** Each program with the Debian package that provides it: "ping (Debian package iputils-ping)". */
export function namedPrograms(programs: readonly string[]): string[] {
  return programs.map((program) => {
    const pkg = debianPackage[path.basename(program)];
    return pkg === undefined ? program : `${program} (Debian package ${pkg})`;
  });
}

/** What to do about missing programs: the apt-get line when their packages are known. */
export function installHint(missing: readonly string[]): string {
  const packages = [...new Set(missing.map((p) => debianPackage[path.basename(p)]).filter(Boolean))];
  return packages.length > 0
    ? `install ${packages.length === 1 ? 'it' : 'them'} (apt-get install ${packages.join(' ')}), or fix PATH`
    : 'install it, or fix PATH';
}
