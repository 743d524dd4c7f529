import { createRequire } from 'node:module';
import type * as Pino from 'pino';
import type { Logger } from 'pino';

// pino is loaded on first use: most commands never log, and start-up time matters.
const require = createRequire(import.meta.url);

/**
 * Operational logging (what runbook itself is doing), on stderr through pino. It is kept apart
 * from the journal, which records what was done to the host and is always written in full.
 */
export function createLogger(level: string): Logger {
  const { pino } = require('pino') as typeof Pino;
  return pino({ name: 'runbook', level, base: null }, pino.destination({ dest: 2, sync: true }));
}
