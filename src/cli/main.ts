import { Command, CommanderError } from 'commander';
import { ExitCode, internalErrorExitCode, RunbookError } from '../errors.js';
import { terminalSafe } from '../text/plain-text.js';
import { concernsSandbox } from '../sandbox/in-option.js';
import { engineVersion } from '../version.js';
import { applySpec, optionFlags, type CommandSpec } from './command-spec.js';
import { commandLoaders, loadAllCommands, program as programSpec } from './commands/index.js';
import { createContext, globalOptions, type CliContext, type GlobalOptions } from './context.js';
import { errorJson } from './json-results.js';
import { renderAdvice, userContextOf, type UserContext } from './render-advice.js';

/**
 * Parses the command line and dispatches to one command: each is declared in its module
 * (src/cli/commands/<verb>.ts, listed in commands/index.ts) and turned into a commander
 * command here. Returns the exit code rather than calling process.exit(), so that logs and the
 * journal are flushed first.
 */
export async function main(commandLine: readonly string[]): Promise<number> {
  let argv = commandLine;
  // `--in <sandbox>`: the whole command re-runs inside that sandbox host (src/sandbox/enter.ts),
  // or here, without --in, when this process already runs inside it.
  if (concernsSandbox(argv)) {
    try {
      const { runInSandboxIfAsked } = await import('./commands/sandbox-actions.js');
      const inSandbox = await runInSandboxIfAsked(argv);
      if ('exitCode' in inSandbox) return inSandbox.exitCode;
      argv = inSandbox.argv;
    } catch (error) {
      return reportError(error, argv, userOf(argv));
    }
  }
  let exitCode: number = ExitCode.ok;
  let ctx: CliContext | undefined;
  const context = (command: Command): CliContext =>
    (ctx ??= createContext(command.optsWithGlobals<GlobalOptions>(), argv));

  try {
    const commands = await commandsFor(argv);
    const program = new Command('runbook')
      .version(engineVersion, '-V, --version')
      .showHelpAfterError('(run with --help for usage)')
      .exitOverride();
    const dispatch = async (spec: CommandSpec, args: unknown[], options: Record<string, unknown>, command: Command) => {
      // Before the door: a user who is not root is told that first, with the same command under
      // sudo, not what they cannot do to a state dir root made (issue 26).
      const need = typeof spec.needsRoot === 'function' ? spec.needsRoot(options) : spec.needsRoot;
      if (need !== undefined)
        (await import('../host/privileges.js')).requireRoot(
          need,
          `runbook ${[commandName(command), ...command.args].join(' ')}`,
        );
      // The one door (issue 22): before any command's action, hidden ones and sandbox
      // subcommands included, the state dir is opened and trusted as the command declares
      // (door.ts); only then is a run past its --confirm-within deadline reverted or reported.
      const { openDoor } = await import('./door.js');
      await openDoor(context(command), spec, commandName(command), command.args, options);
      const call = { argv, globals: command.optsWithGlobals<GlobalOptions>(), commands };
      exitCode = await spec.action!(context(command), args as Array<string | undefined>, options, call);
    };
    applySpec(program, programSpec, dispatch);
    for (const spec of commands)
      applySpec(program.command(spec.name, { hidden: spec.hidden === true }), spec, dispatch);

    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    return reportError(error, argv, ctx?.user ?? userOf(argv));
  }
}

/**
 * The commands to declare for this command line: only the one it names, so that a command
 * loads nothing of the others (their modules import the engine); none for `--version`; all of
 * them for the overview (`--help`, `help`, no command, a name commander must say is unknown)
 * and for the completion script.
 */
async function commandsFor(argv: readonly string[]): Promise<CommandSpec[]> {
  const word = commandWord(argv);
  if (word === undefined) {
    const asksVersionOnly = argv.some((a) => a === '-V' || a === '--version') && !argv.some(isHelpFlag);
    return asksVersionOnly ? [] : loadAllCommands();
  }
  if (!Object.hasOwn(commandLoaders, word)) return loadAllCommands();
  const spec = await commandLoaders[word as keyof typeof commandLoaders]();
  return spec.needsAllCommands ? loadAllCommands() : [spec];
}

const isHelpFlag = (arg: string) => arg === '-h' || arg === '--help';

/** The global options that take a value: the word after them is theirs, not a command's name. */
const valuedGlobals = new Set(
  Object.values(globalOptions).flatMap((declared) => {
    const { short, long, takesValue } = optionFlags(declared);
    return takesValue ? [short, long].filter((f) => f !== undefined) : [];
  }),
);

/**
 * The user's context for an error met before any command had one (an unknown sandbox for
 * --in, say): the --state-dir given on the line, as commander would have read it.
 */
function userOf(argv: readonly string[]): UserContext {
  let option: string | undefined;
  for (let i = 0; i < argv.length && argv[i] !== '--'; i++) {
    const arg = argv[i] as string;
    if (arg === '--state-dir') option = argv[++i];
    else if (arg.startsWith('--state-dir=')) option = arg.slice('--state-dir='.length);
  }
  return userContextOf(option, undefined, undefined, argv);
}

/** The command's name: the first word that is neither an option nor an option's value. */
function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') return argv[i + 1];
    if (valuedGlobals.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/** A command's full name: "run", "sandbox list". */
export function commandName(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at?.parent != null; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/**
 * Maps every failure to a message and an exit code; never a stack trace for a known error, and
 * for an internal one only with --verbose.
 */
function reportError(error: unknown, argv: readonly string[], user: UserContext): number {
  // With --json, a failure is reported as JSON too (on stdout, besides the text on stderr), so
  // that a program driving the CLI (the Ansible module) can show the CLI's own message.
  if (argv.includes('--json') && !(error instanceof CommanderError && error.exitCode === 0))
    process.stdout.write(`${terminalSafe(JSON.stringify(errorJson(error, user)))}\n`);
  if (error instanceof CommanderError) {
    // --help and --version end with exit code 0; every usage error is invalid input.
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.invalidInput;
  }
  // Messages quote files, paths and what the kernel said: terminal-safe, like every line (issue 22).
  if (error instanceof RunbookError) {
    process.stderr.write(`runbook: ${terminalSafe(error.message)}\n`);
    if (error.hint !== undefined) process.stderr.write(`hint: ${terminalSafe(renderAdvice(error.hint, user))}\n`);
    return error.exitCode;
  }
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  const detail = error instanceof Error ? (verbose ? (error.stack ?? error.message) : error.message) : String(error);
  process.stderr.write(`runbook: internal error: ${terminalSafe(detail)}\n`);
  if (!verbose) process.stderr.write('hint: run again with --verbose for the stack trace\n');
  return internalErrorExitCode;
}
