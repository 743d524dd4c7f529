import type { Logger } from 'pino';
import { createLogger } from '../log.js';
import { resolveStateDir } from './state-dir.js';

export { resolveStateDir };

/** What every command gets from the global options. */
export interface CliContext {
  stateDir: string;
  logger: Logger;
  /** Whether debug lines are logged (the level is debug or trace). */
  debugEnabled: boolean;
  /** Where normal output goes (stdout); replaced in tests. */
  out: (line: string) => void;
  /** Where warnings and errors go (stderr). */
  err: (line: string) => void;
}

export interface GlobalOptions {
  stateDir?: string;
  verbose?: boolean;
  logLevel?: string;
}

export function createContext(options: GlobalOptions): CliContext {
  const level = options.logLevel ?? (options.verbose ? 'debug' : 'warn');
  let logger: Logger | undefined;
  return {
    debugEnabled: level === 'debug' || level === 'trace',
    stateDir: resolveStateDir(options.stateDir),
    // Created on first use, so that commands that never log do not load pino.
    get logger() {
      return (logger ??= createLogger(level));
    },
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}
