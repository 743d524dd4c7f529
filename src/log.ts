import { createRequire } from 'node:module';
import type * as Pino from 'pino';
import type { Logger } from 'pino';
import { writeSync } from 'node:fs';
import { bundled } from './bundled.js';

/**
 * pino, loaded on first use: most commands never log, and start-up time matters. In the
 * one-file bundle pino is inside the file, and esbuild bundles only a plain `require` call (not
 * one made by createRequire), which runs its bundled copy, still on first use.
 */
function loadPino(): typeof Pino {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- only ever runs in the bundle, see above
  return (bundled ? require('pino') : createRequire(import.meta.url)('pino')) as typeof Pino;
}

/**
 * Operational logging (what runbook itself is doing), on stderr through pino. It is kept apart
 * from the journal, which records what was done to the host and is always written in full.
 */
export function createLogger(level: string, safe: (line: string) => string = (line) => line): Logger {
  const { pino } = loadPino();
  // Synchronous, as every line the CLI writes, and made terminal-safe by `safe` (the CLI's
  // terminalSafe): a log line quotes commands and what they printed, which the kernel or
  // another user may have written (issue 22).
  const stderr = { write: (line: string) => writeSync(2, safe(line)) };
  return pino({ name: 'runbook', level, base: null }, stderr);
}
