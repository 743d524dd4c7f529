import type { Logger } from 'pino';
import { RunbookError } from '../errors.js';
import { createLogger } from '../log.js';
import type { RunStore } from '../store/run-store.js';
import { choiceOption, flag, option, type OptionsOf } from './option-spec.js';
import { stateDirDefaultHelp } from './state-dir.js';
import { renderAdvice, userContextOf, type Render, type UserContext } from './render-advice.js';
import { terminalSafe } from '../text/plain-text.js';

/** What every command gets from the global options. */
export interface CliContext {
  /**
   * The state dir, opened and trusted by the door (src/cli/door.ts) before the command's
   * action: the only way a command reaches runs, journals, plans, sandboxes and the audit file.
   * An internal error for a command that declared it uses none.
   */
  readonly store: RunStore;
  /** The store if the door opened one (for the door, and for completion's quiet paths). */
  readonly openedStore: RunStore | undefined;
  /** The global `--state-dir` as given; the door resolves and opens it. */
  readonly stateDirOption: string | undefined;
  /** For the door only: the store it opened. */
  enter(store: RunStore): void;
  logger: Logger;
  /** Whether debug lines are logged (the level is debug or trace). */
  debugEnabled: boolean;
  /** Where normal output goes (stdout); replaced in tests. */
  out: (line: string) => void;
  /** Where warnings and errors go (stderr). */
  err: (line: string) => void;
  /** Who reads the output, and where they type what it suggests. */
  user: UserContext;
  /** Advice (a hint, a next step, a suggested command) as the user must read it: see render-advice.ts. */
  render: Render;
}

/** The options every command takes, given before or after the command's name. */
export const globalOptions = {
  stateDir: option('--state-dir <dir>', `where runs and journals are kept (${stateDirDefaultHelp})`, {
    complete: 'dirs',
  }),
  verbose: flag(
    '-v, --verbose',
    'log each command and its exit code when it ends (debug level, on stderr, through pino)',
  ),
  // Handled before commander sees the command line (src/sandbox/enter.ts): declared for --help
  // and completion.
  in: option(
    '--in <sandbox>',
    'run the command inside a persistent sandbox host, with its own state dir (see `runbook sandbox`)',
    { complete: 'sandboxes' },
  ),
  logLevel: choiceOption('--log-level <level>', 'operational log level', [
    'trace',
    'debug',
    'info',
    'warn',
    'error',
    'silent',
  ]),
};

export type GlobalOptions = OptionsOf<typeof globalOptions>;

/** Light on purpose: `runbook --version` creates one too; the store's modules load with the door. */
export function createContext(options: GlobalOptions, commandLine: readonly string[] = []): CliContext {
  const level = options.logLevel ?? (options.verbose ? 'debug' : 'warn');
  let logger: Logger | undefined;
  let store: RunStore | undefined;
  const user = userContextOf(options.stateDir, undefined, undefined, commandLine);
  return {
    debugEnabled: level === 'debug' || level === 'trace',
    stateDirOption: options.stateDir,
    get store() {
      if (store === undefined)
        throw new RunbookError(
          'internal',
          'this command reached for the state dir, but declared that it uses none (src/cli/door.ts)',
        );
      return store;
    },
    get openedStore() {
      return store;
    },
    enter(opened) {
      store = opened;
    },
    user,
    render: (advice) => renderAdvice(advice, user),
    // Created on first use, so that commands that never log do not load pino.
    get logger() {
      return (logger ??= createLogger(level, terminalSafe));
    },
    // Every line is made terminal-safe here, at the one edge: what the kernel, a file or another
    // user wrote (an address label, a journal) never reaches the terminal raw (issue 22).
    out: (line) => process.stdout.write(`${terminalSafe(line)}\n`),
    err: (line) => process.stderr.write(`${terminalSafe(line)}\n`),
  };
}
