import { Argument, type Command, Option } from 'commander';
import { exitCodes, exitCodesHelp, type ExitCodeName } from '../errors.js';
import type { RootNeed } from '../host/privileges.js';
import type { StoreAccess } from '../store/run-store.js';
import type { CliContext, GlobalOptions } from './context.js';
import { listOption, type CompletionKind, type OptionSpec, type OptionSpecs, type OptionsOf } from './option-spec.js';

/**
 * What a command declares, once (issue 27): its name, arguments, options and their types, help,
 * examples, exit codes and action. `main` turns each declaration into a commander command; the
 * README's CLI table, `--help` and the completion scripts are made from, or checked against, the
 * same declarations (test/cli/command-specs.test.ts). A command's module exports its
 * declaration as `command`; how to add one is in CONTRIBUTING.md.
 */

export interface ArgumentSpec {
  /** `<name>` when required, `[name]` when optional, as commander reads it. */
  readonly name: string;
  readonly description: string;
  /** The value of an optional argument left out. */
  readonly default?: string;
  readonly complete?: CompletionKind;
}

type ArgValue<A> = A extends { default: string }
  ? string
  : A extends { name: `<${string}>` }
    ? string
    : string | undefined;

/** The positional arguments an action gets, derived from the declared ones. */
export type ArgsOf<A extends readonly ArgumentSpec[]> = { -readonly [K in keyof A]: ArgValue<A[K]> };

/** A command line and what it does: help shows both, so an example never stands unexplained (issue 26). */
export type Example = readonly [command: string, says: string];

/** What the action gets besides its arguments and options. */
export interface CommandCall {
  /** The command line as given (after `runbook`). */
  readonly argv: readonly string[];
  /** The global options (--state-dir, --verbose, --log-level). */
  readonly globals: GlobalOptions;
  /** Every command declared in this process (all of them when the completion script is made). */
  readonly commands: readonly CommandSpec[];
}

/**
 * What a run past its `--confirm-within` deadline, its watchdog gone, means to the command
 * (issues 15, 22): `revert` for a command that changes the host or the runs (it reverts the run
 * first, or does not run at all), `report` for one that reads them (it says the run awaits its
 * revert, and changes nothing). Dealt with by the door (door.ts), after the state dir is trusted.
 */
export type DueRunsPolicy = 'revert' | 'report';

/**
 * What the command does with the state dir: nothing, read it, or also write it; the door
 * (door.ts) opens and trusts it accordingly before the action, or refuses (issue 22). A
 * function when it depends on the arguments (`__complete runs` reads, `__complete steps` not) or
 * the options (`prune --dry-run` only reads).
 */
export type StateDirUse = StoreAccess | 'none';

interface Declaration<A extends readonly ArgumentSpec[], O extends OptionSpecs> {
  readonly name: string;
  /** One line, in the command list of `runbook --help` and in the completion menu. */
  readonly description: string;
  /** Not listed in help nor completed: for runbook itself (`__complete`, `__watchdog`). */
  readonly hidden?: boolean;
  readonly arguments?: A;
  readonly options?: O;
  /** Prose printed after the options in the command's `--help`: how it behaves, what it prints. */
  readonly help?: string;
  readonly examples?: readonly Example[];
  /** The "Exit codes:" section: what a code means for this command, null for one it never returns. */
  readonly exitCodes?: Partial<Record<ExitCodeName, string | null>>;
  /** Required: a new command must say (the one-door test runs each against an untrusted state dir). */
  readonly stateDir:
    StateDirUse | ((args: readonly string[], options: Readonly<Record<string, unknown>>) => StateDirUse);
  readonly dueRuns?: DueRunsPolicy;
  /**
   * What it needs of root (issue 26): checked before the door, so that a user who is not root is
   * told "needs root" and the same command under sudo, not something about the state dir.
   */
  readonly needsRoot?: RootNeed | ((options: OptionsOf<O>) => RootNeed | undefined);
  /** Its action reads every command's declaration (call.commands): main declares them all. */
  readonly needsAllCommands?: boolean;
  readonly subcommands?: readonly CommandSpec[];
  /** Runs the command; returns its exit code (src/errors.ts). Absent for a group (`sandbox`). */
  readonly action?: (
    ctx: CliContext,
    args: ArgsOf<A>,
    options: OptionsOf<O>,
    call: CommandCall,
  ) => number | Promise<number>;
}

/** A declared command, its types erased: what main, the help and the completion read. */
export type CommandSpec = Omit<Declaration<readonly ArgumentSpec[], OptionSpecs>, 'needsRoot'> & {
  readonly needsRoot?: RootNeed | ((options: Record<string, unknown>) => RootNeed | undefined);
  readonly action?: (
    ctx: CliContext,
    args: ReadonlyArray<string | undefined>,
    options: Record<string, unknown>,
    call: CommandCall,
  ) => number | Promise<number>;
};

/**
 * Declares a command. The action's arguments and options are typed from the declaration, so a
 * command's option types are written once; what is returned is the same object, types erased.
 */
export function defineCommand<
  const A extends readonly ArgumentSpec[] = [],
  const O extends OptionSpecs = Record<never, never>,
>(declaration: Declaration<A, O>): CommandSpec {
  // The action was checked against A and O above; main calls it with what commander parsed
  // from the same declaration.
  return declaration as unknown as CommandSpec;
}

/** `<runbook>`: the argument of every command that reads a runbook. */
export const runbookArgument = {
  name: '<runbook>',
  description: 'a name from `runbook list`, or a path to a .yaml file',
  complete: 'runbooks',
} as const satisfies ArgumentSpec;

/** `--set key=value`, repeatable: a parameter of the runbook. */
export function setOption(description = 'override a parameter (repeatable)'): OptionSpec<string[]> {
  return listOption('--set <key=value>', description, { complete: 'params' });
}

/** The exit codes of the commands that run steps (the table is in src/errors.ts). */
export const runExitCodes = { interrupted: `${exitCodes.interrupted.meaning}; \`runbook resume\` continues` };

/** The root of the command line: `runbook` itself, its global options and the overview help. */
export type ProgramSpec = Omit<
  CommandSpec,
  'action' | 'arguments' | 'dueRuns' | 'hidden' | 'needsAllCommands' | 'stateDir'
>;

/**
 * Fills a commander command from a declaration: description, arguments, options and help.
 * `onAction` runs when commander dispatches to this command (not for a group of subcommands).
 */
export function applySpec(
  command: Command,
  spec: CommandSpec | ProgramSpec,
  onAction: (spec: CommandSpec, args: unknown[], options: Record<string, unknown>, command: Command) => Promise<void>,
): Command {
  command.description(spec.description);
  for (const arg of 'arguments' in spec ? (spec.arguments ?? []) : []) {
    const argument = new Argument(arg.name, arg.description);
    if (arg.default !== undefined) argument.default(arg.default);
    command.addArgument(argument);
  }
  for (const [name, declared] of Object.entries(spec.options ?? {})) command.addOption(toOption(name, declared));
  const after = helpAfterOptions(spec);
  if (after !== '') command.addHelpText('after', after);
  for (const sub of spec.subcommands ?? []) {
    applySpec(command.command(sub.name, { hidden: sub.hidden === true }), sub, onAction);
  }
  const { action } = spec as CommandSpec;
  if (action !== undefined) {
    command.action(async (...parsed: unknown[]) => {
      // commander passes the arguments, then the options, then the command itself.
      const self = parsed.at(-1) as Command;
      const options = withListDefaults(spec.options ?? {}, parsed.at(-2) as Record<string, unknown>);
      await onAction(spec as CommandSpec, parsed.slice(0, -2), options, self);
    });
  }
  return command;
}

/** A repeatable option not given is its declared default (an empty list), as the action expects. */
function withListDefaults(declared: OptionSpecs, options: Record<string, unknown>): Record<string, unknown> {
  const filled = { ...options };
  for (const [name, spec] of Object.entries(declared))
    if (spec.repeatable && spec.default !== undefined && filled[name] === undefined) filled[name] = spec.default;
  return filled;
}

function toOption(name: string, declared: OptionSpec): Option {
  const made = new Option(declared.flags, declared.description);
  // The name the action reads is commander's: a declaration whose key differs would be read as
  // undefined, silently. Every declaration is built by the tests, so this never reaches a user.
  if (made.attributeName() !== name) {
    throw new Error(`option ${declared.flags} is declared as "${name}"; commander calls it "${made.attributeName()}"`);
  }
  if (declared.choices !== undefined) made.choices(declared.choices);
  if (declared.conflicts !== undefined) made.conflicts([...declared.conflicts]);
  if (declared.repeatable)
    made.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  // A list starts empty without saying so: help would print "(default: [])" (issue 26); the
  // action is given [] (withListDefaults).
  if (declared.default !== undefined && !declared.repeatable) made.default(declared.default);
  return made;
}

/** The help printed after the options: prose, examples, exit codes, each when declared. */
export function helpAfterOptions(spec: CommandSpec | ProgramSpec): string {
  const sections = [
    spec.help?.trim(),
    spec.examples === undefined ? undefined : `Examples:\n${formatExamples(spec.examples)}`,
    spec.exitCodes === undefined ? undefined : exitCodesHelp(spec.exitCodes),
  ].filter((s): s is string => s !== undefined && s !== '');
  return sections.length === 0 ? '' : `\n${sections.join('\n\n')}`;
}

/** Examples aligned in two columns; a command too long for the first has its text on the next line. */
function formatExamples(examples: readonly Example[]): string {
  const widest = 60;
  const explained = examples.filter(([command, says]) => says !== undefined && command.length <= widest);
  const column = Math.max(0, ...explained.map(([command]) => command.length)) + 3;
  return examples
    .map(([command, says]) => {
      if (says === undefined) return `  ${command}`;
      if (command.length > widest) return `  ${command}\n  ${' '.repeat(column)}${says}`;
      return `  ${command.padEnd(column)}${says}`;
    })
    .join('\n');
}

/** The flags of an option as the shell sees them: `-c` and `--command`. */
export function optionFlags(declared: OptionSpec): { short?: string; long?: string; takesValue: boolean } {
  const parsed = new Option(declared.flags);
  return {
    ...(parsed.short !== undefined && { short: parsed.short }),
    ...(parsed.long !== undefined && { long: parsed.long }),
    takesValue: parsed.required || parsed.optional,
  };
}
