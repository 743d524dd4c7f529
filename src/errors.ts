import type { Advice } from './suggestion.js';

/**
 * The one error family of runbook, and the one table of exit codes. Every failure the user can
 * meet carries a stable `code`, the process exit code it maps to, a message saying what was
 * being done and what happened, and optionally a `hint` saying what to do next: advice, whose
 * suggested commands the CLI renders for where the user is (src/suggestion.ts).
 *
 * Every exit code the CLI returns comes from here: the codes and what they mean (`exitCodes`,
 * from which `--help` is generated), what each error code exits with (`exitCodeOfError`), and
 * what each way a command can end exits with (`exitCodeFor`). To add an error code, add it to
 * `ErrorCode` and to `exitCodeOfError`; the compiler finds the rest.
 */

/** The exit codes and what they mean; `runbook --help` and each command's help print them. */
export const exitCodes = {
  ok: { code: 0, meaning: 'success, or nothing to do' },
  stepFailed: { code: 1, meaning: 'a step failed (the diagnosis says why)' },
  invalidInput: {
    code: 2,
    meaning:
      'invalid input (unknown runbook, bad parameter, malformed file or flag), not root, a run that belongs ' +
      'to another host, a runbook changed since the run (resume without --force), a precondition about the ' +
      'host that does not hold, or a run with other values in effect (run without --replace); nothing was changed',
  },
  locked: {
    code: 3,
    meaning:
      "another runbook command holds the state dir's lock, or another runbook process (of any state dir) is " +
      'changing this host; the message names it; nothing was changed',
  },
  interrupted: { code: 130, meaning: 'interrupted (SIGINT/SIGTERM/SIGHUP) at a safe point' },
} as const;

export type ExitCodeName = keyof typeof exitCodes;

/** The exit codes by name: `ExitCode.locked` is 3. */
export const ExitCode = Object.fromEntries(Object.entries(exitCodes).map(([name, { code }]) => [name, code])) as {
  readonly [N in ExitCodeName]: (typeof exitCodes)[N]['code'];
};

export type ErrorCode =
  | 'invalid-input' // a runbook, parameter or flag is wrong; nothing was changed
  | 'not-permitted' // not root / no CAP_NET_ADMIN; nothing was changed
  | 'locked' // another mutating command holds the state dir, or another runbook process changes this host
  | 'journal-damaged' // a journal line is damaged or the hash chain is broken
  | 'wrong-host' // a recorded run belongs to another host or namespace
  | 'step-failed' // a step (or an automatic revert's undo) could not be done
  | 'interrupted' // SIGINT / SIGTERM stopped a command at a safe point
  | 'untrusted-state-dir' // the state dir or an entry in it is not safely ours (issue 10)
  | 'io-error' // a state-dir write failed: full disk, I/O error, read-only file system
  | 'journal-version' // a journal written in a format this version does not know
  | 'precondition-failed' // a precondition about the host as found does not hold; nothing was changed (issue 23)
  | 'replace-needed' // a run of the runbook with other values is in effect and --replace was not given (issue 23)
  | 'internal'; // a sandbox host could not be made or entered, or a bug

/** What each error code exits with. */
const exitCodeOfError: Record<ErrorCode, ExitCodeName> = {
  'invalid-input': 'invalidInput',
  'not-permitted': 'invalidInput',
  locked: 'locked',
  'journal-damaged': 'stepFailed',
  'wrong-host': 'invalidInput',
  'step-failed': 'stepFailed',
  interrupted: 'interrupted',
  'untrusted-state-dir': 'invalidInput',
  'io-error': 'stepFailed',
  'journal-version': 'invalidInput',
  'precondition-failed': 'invalidInput',
  'replace-needed': 'invalidInput',
  internal: 'stepFailed',
};

/**
 * How a command ended, as the engine reports it: a run or resume (succeeded, stopped, failed,
 * interrupted), a rollback (rolled-back, failed, interrupted), a check (ok, not-ok,
 * interrupted), a `journal --verify` (intact, damaged).
 */
export type CommandOutcome =
  'succeeded' | 'stopped' | 'rolled-back' | 'ok' | 'intact' | 'failed' | 'not-ok' | 'damaged' | 'interrupted';

const exitCodeOfOutcome: Record<CommandOutcome, ExitCodeName> = {
  succeeded: 'ok',
  stopped: 'ok',
  'rolled-back': 'ok',
  ok: 'ok',
  intact: 'ok',
  failed: 'stepFailed',
  'not-ok': 'stepFailed',
  damaged: 'stepFailed',
  interrupted: 'interrupted',
};

/** The exit code for how a command ended. */
export function exitCodeFor(outcome: CommandOutcome): number {
  return exitCodes[exitCodeOfOutcome[outcome]].code;
}

/**
 * The "Exit codes:" section of a command's help, generated from `exitCodes`. A command may say
 * what a code means for it (a string), or leave out a code it never returns (null).
 */
export function exitCodesHelp(meanings: Partial<Record<ExitCodeName, string | null>> = {}): string {
  const lines = ['Exit codes:'];
  for (const [name, { code, meaning }] of Object.entries(exitCodes) as Array<
    [ExitCodeName, { code: number; meaning: string }]
  >) {
    const text = meanings[name] === undefined ? meaning : meanings[name];
    if (text === null) continue;
    const [first, ...rest] = wrap(text, 90);
    lines.push(`  ${String(code).padEnd(5)}${first}`, ...rest.map((line) => `       ${line}`));
  }
  return lines.join('\n');
}

/** Greedy word wrap at `width` columns. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

export class RunbookError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly hint: Advice | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string | Advice; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'RunbookError';
    this.code = code;
    this.exitCode = exitCodes[exitCodeOfError[code]].code;
    this.hint = typeof options.hint === 'string' ? [options.hint] : options.hint;
  }
}

/** The exit code of an error that is not a RunbookError: a bug, reported with its stack. */
export const internalErrorExitCode: number = exitCodes[exitCodeOfError.internal].code;

/** Shorthand for the most common error: bad input, detected before anything changed. */
export function invalidInput(message: string, hint?: string | Advice): RunbookError {
  return new RunbookError('invalid-input', message, hint === undefined ? {} : { hint });
}
