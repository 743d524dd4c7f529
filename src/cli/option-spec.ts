/**
 * How a command declares an option, and the type its action gets for it, written once: the
 * helpers below say what the value is (a flag, a string, a list, one of some choices), and
 * OptionsOf turns a command's declared options into the type of the options object it is given.
 * Kept free of imports: the global options are declared with it in context.ts.
 */

/** What the completion script offers for an argument or an option's value. */
export type CompletionKind = 'runbooks' | 'runs' | 'sandboxes' | 'steps' | 'params' | 'shells' | 'dirs';

/**
 * An option. `T` is the type of its value in the action's options: it is never stored, it only
 * carries the type from the helpers below (flag, option, listOption, choiceOption) to OptionsOf.
 */
export interface OptionSpec<T = unknown> {
  /** As commander reads them: `--until <step-id>`, `-c, --command <command>`, `--json`. */
  readonly flags: string;
  readonly description: string;
  readonly choices?: readonly string[];
  readonly default?: T;
  /** Given several times, the values are collected in order. */
  readonly repeatable?: boolean;
  readonly complete?: CompletionKind;
  /** Options it cannot be given with (commander refuses the pair): `--json` with `--format`. */
  readonly conflicts?: readonly string[];
  /** Never set: the value's type, for OptionsOf. */
  readonly valueType?: T;
}

/** A command's options, by the name its action reads them under (commander's camelCase of the long flag). */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type More = Pick<OptionSpec, 'complete' | 'conflicts'>;

/** `--json`: true when given. */
export function flag(flags: string, description: string, more: More = {}): OptionSpec<boolean | undefined> {
  return { flags, description, ...more };
}

/** `--until <step-id>`: the value, when given. */
export function option(flags: string, description: string, more: More = {}): OptionSpec<string | undefined> {
  return { flags, description, ...more };
}

/** `--set <key=value>`, repeatable: every value, in order ([] when none). */
export function listOption(flags: string, description: string, more: More = {}): OptionSpec<string[]> {
  return { flags, description, repeatable: true, default: [], ...more };
}

/** `--format <format>`: one of `choices` (commander refuses any other), `fallback` when not given. */
export function choiceOption<const C extends string>(
  flags: string,
  description: string,
  choices: readonly C[],
  fallback: C,
): OptionSpec<C>;
/** The same without a fallback: undefined when not given. */
export function choiceOption<const C extends string>(
  flags: string,
  description: string,
  choices: readonly C[],
): OptionSpec<C | undefined>;
export function choiceOption(
  flags: string,
  description: string,
  choices: readonly string[],
  fallback?: string,
): OptionSpec {
  return { flags, description, choices, ...(fallback !== undefined && { default: fallback }) };
}

type ValueOf<S> = S extends OptionSpec<infer T> ? T : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The options object an action gets, derived from the declared options. */
export type OptionsOf<O extends OptionSpecs> = Simplify<
  { [K in keyof O as undefined extends ValueOf<O[K]> ? K : never]?: Exclude<ValueOf<O[K]>, undefined> } & {
    [K in keyof O as undefined extends ValueOf<O[K]> ? never : K]: ValueOf<O[K]>;
  }
>;
