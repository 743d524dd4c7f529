/**
 * A plan is a runbook with its parameters substituted: every command is a concrete argv.
 * The engine only ever sees plans; it knows nothing about YAML or placeholders. Rendered by
 * src/runbook, recorded by src/journal (the run-start entry), run by src/engine: so it sits
 * below all three and imports nothing (CONTRIBUTING.md, Layers).
 */

/** The values of a runbook's parameters, by name, as strings (they end up in argv). */
export type ParamValues = Readonly<Record<string, string>>;

/**
 * What a command's result must show. Every field given must hold (they are ANDed).
 * `json` is a partial match on the parsed stdout (see engine/expectations.ts); the runbook
 * format's schema for it is in src/runbook/schema.ts.
 */
export interface ExpectSpec {
  exit?: number | 'nonzero' | 'any' | undefined;
  output_contains?: string | undefined;
  output_matches?: string | undefined;
  json?: unknown;
  not?: ExpectSpec | undefined;
}
export interface PlannedCommand {
  argv: readonly string[];
  timeoutMs: number;
  /** Text passed on standard input (absent: stdin is closed). */
  stdin?: string | undefined;
  /** Exit statuses that count as success (absent: 0 only). */
  okExit?: readonly number[] | undefined;
  /** Run the command only if this check holds (`if`) or does not hold (`unless`). */
  condition?: PlannedCondition | undefined;
  /**
   * A `read:` check or probe (only those): this file is read in-process, no program runs.
   * `argv` is then `["read", path]`, which journals and messages show.
   */
  read?: string | undefined;
}

/** The `if` / `unless` of a command: a read-only check, journaled in the phase "do-condition" or "undo-condition". */
export interface PlannedCondition {
  argv: readonly string[];
  timeoutMs: number;
  stdin?: string | undefined;
  expect: ExpectSpec;
  /** true for `if` (run when the check holds), false for `unless`. */
  runWhenHolds: boolean;
}

/** Retrying a check or probe: up to `retries` more attempts, `delayMs` apart. */
export interface Retry {
  retries?: number | undefined;
  delayMs?: number | undefined;
}

export interface PlannedCheck extends PlannedCommand, Retry {
  expect: ExpectSpec;
}

/**
 * A precondition of a step (`requires`). One marked `preflight` is about the host as found (a
 * subnet routed elsewhere, a name in use, an address the host must have): before the run
 * changes anything, it is checked for every step that does not hold yet (issue 23), and a run
 * it refuses changes nothing; `cause` and `fix` say what it means when it does not hold.
 */
export interface PlannedRequire extends PlannedCheck {
  preflight?: true | undefined;
  cause?: string | undefined;
  fix?: string | undefined;
}

export interface PlannedProbe extends PlannedCommand, Retry {
  when: ExpectSpec;
  cause: string;
  fix: string | undefined;
  /**
   * Names a cause of its own, independent of the others (the probe has `concerns`): a match
   * does not end the diagnosis, the later independent probes still run.
   */
  independent: boolean;
}

/**
 * A value read just before `do` and journaled, for `do` and `undo` to use as {{name}}: the
 * output, trimmed unless `trim` is false, or the field `json` picks, or the first group of `regex`.
 */
export interface PlannedCapture extends PlannedCommand {
  name: string;
  json?: string | undefined;
  regex?: string | undefined;
  trim?: boolean | undefined;
}

export interface PlannedStep {
  id: string;
  title: string;
  why: string;
  capture: readonly PlannedCapture[];
  /** Checks that must hold before `do` runs; when one does not, `do` does not run. */
  requires: readonly PlannedRequire[];
  /**
   * Earlier steps (rendered ids) whose object this step's `do` changes: `do` runs only if this
   * run created it. Absent in journals recorded before it existed.
   */
  onlyIfCreatedBy?: readonly string[] | undefined;
  /**
   * `when:` (issue 28): the step runs only if this check holds; otherwise it is skipped, and
   * the journal says why. Absent: the step always runs.
   */
  when?: PlannedCheck | undefined;
  /**
   * Values handed on to later steps (issue 28): read once the step holds, journaled as `export`
   * entries. Absent in plans recorded before it existed.
   */
  export?: readonly PlannedCapture[] | undefined;
  /**
   * The exported values this step uses, by name: the id of the step that exports each. Its
   * commands, checks and probes hold {{name}} placeholders for them until they run.
   */
  imports?: Readonly<Record<string, string>> | undefined;
  /** May still hold {{capture}} placeholders: filled with this attempt's captured values. */
  do: readonly PlannedCommand[];
  verify: readonly PlannedCheck[];
  /** May still hold {{capture}} placeholders: rollback fills them from the journal. */
  undo: readonly PlannedCommand[];
  /** `undo: none`: why the step cannot be undone (rollback reports it and goes on). */
  noUndo?: string | undefined;
  diagnose: readonly PlannedProbe[];
}

export interface Plan {
  runbook: string;
  description: string;
  params: ParamValues;
  steps: readonly PlannedStep[];
}

/** The phases in which a step runs commands; each is journaled under this name. */
export type Phase =
  | 'check'
  | 'requires'
  | 'capture'
  | 'do'
  | 'verify'
  | 'diagnose'
  | 'undo'
  | 'undo-check'
  /** Before an undo that deletes a container: what it holds (engine/foreign-contents.ts). */
  | 'undo-guard'
  | 'do-condition'
  | 'undo-condition'
  | 'when'
  | 'export'
  | 'final-verify';

/** A command with no timeout of its own gets this one, so that nothing can hang a run. */
export const defaultTimeoutMs = 5_000;
