import { RunbookError } from '../errors.js';

/**
 * How a run refused by preconditions about the host as found (issue 23, preconditions.ts) is
 * told: apart from the checks themselves, so that the CLI's error reporting can name every
 * failure without loading the engine.
 */

/**
 * What a preflight precondition that does not hold does to the run: 'refuse' (nothing is
 * changed, exit 2). One value for now; a warning that lets the run go on (issue 26) is the
 * next, and each result says which it is so that callers and --json need no other shape.
 */
export type PreconditionSeverity = 'refuse';

/** A precondition that does not hold, with the steps it belongs to. */
export interface FailedPrecondition {
  severity: PreconditionSeverity;
  /** The steps it is a precondition of (identical ones, as a loop makes, are checked once). */
  steps: string[];
  argv: readonly string[];
  reason: string;
  evidence: string | undefined;
  cause: string | undefined;
  fix: string | undefined;
}

/**
 * The refusal of a run that a precondition about the host refuses (exit 2): every precondition
 * that does not hold, with its cause and fix, and the programs that are missing; nothing was
 * changed. `failures` and `missingPrograms` are there for --json.
 */
export class PreconditionsRefused extends RunbookError {
  constructor(
    readonly what: string,
    readonly failures: readonly FailedPrecondition[],
    readonly missingPrograms: readonly string[],
    hint?: string,
  ) {
    const count = failures.length + (missingPrograms.length > 0 ? 1 : 0);
    const lines = failures.map((f) => `  - ${describePrecondition(f)}`);
    if (missingPrograms.length > 0) lines.push(`  - programs not found on PATH: ${missingPrograms.join(', ')}`);
    super(
      'precondition-failed',
      `${what} would be refused by ${count === 1 ? 'a precondition' : `${count} preconditions`} about this host; nothing was changed:\n${lines.join('\n')}`,
      { hint: hint ?? 'fix what each names, or choose values the host can take (--set …); then run again' },
    );
    this.name = 'PreconditionsRefused';
  }
}

/** One failing precondition in words: its steps, its cause (or the check), the evidence, the fix. */
export function describePrecondition(f: FailedPrecondition): string {
  const what = f.cause ?? `${f.argv.join(' ')}: ${f.reason}`;
  const evidence = f.evidence === undefined || f.evidence === '' ? '' : ` (found: ${f.evidence})`;
  const fix = f.fix === undefined ? '' : `; fix: ${f.fix}`;
  return `${f.steps.join(', ')}: ${what}${evidence}${fix}`;
}
