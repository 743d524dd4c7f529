/**
 * The one error family of runbook. Every failure the user can meet carries a stable `code`,
 * the process exit code it maps to, a message saying what was being done and what happened,
 * and optionally a `hint` saying what to do next.
 */

/** Exit codes, as documented in `runbook --help` and the README. */
export const ExitCode = {
  ok: 0,
  stepFailed: 1,
  invalidInput: 2,
  locked: 3,
  interrupted: 130,
} as const;

export type ErrorCode =
  | 'invalid-input' // a runbook, parameter or flag is wrong; nothing was changed
  | 'not-permitted' // not root / no CAP_NET_ADMIN; nothing was changed
  | 'locked' // another mutating command holds the state dir
  | 'journal-damaged' // a journal line is damaged or the hash chain is broken
  | 'wrong-host' // a recorded run belongs to another host or namespace
  | 'step-failed' // a step could not be done or verified
  | 'interrupted' // SIGINT / SIGTERM stopped the run at a safe point
  | 'untrusted-state-dir' // the state dir or an entry in it is not safely ours (issue 10)
  | 'io-error' // a state-dir write failed: full disk, I/O error, read-only file system
  | 'journal-version' // a journal written in a format this version does not know
  | 'internal';

const exitCodeOf: Record<ErrorCode, number> = {
  'invalid-input': ExitCode.invalidInput,
  'not-permitted': ExitCode.invalidInput,
  locked: ExitCode.locked,
  'journal-damaged': ExitCode.stepFailed,
  'wrong-host': ExitCode.invalidInput,
  'step-failed': ExitCode.stepFailed,
  interrupted: ExitCode.interrupted,
  'untrusted-state-dir': ExitCode.invalidInput,
  'io-error': ExitCode.stepFailed,
  'journal-version': ExitCode.invalidInput,
  internal: ExitCode.stepFailed,
};

export class RunbookError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'RunbookError';
    this.code = code;
    this.exitCode = exitCodeOf[code];
    this.hint = options.hint;
  }
}

/** Shorthand for the most common error: bad input, detected before anything changed. */
export function invalidInput(message: string, hint?: string): RunbookError {
  return new RunbookError('invalid-input', message, hint === undefined ? {} : { hint });
}
