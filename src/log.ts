import { pino, type Logger } from 'pino';

/**
 * Operational logging (what runbook itself is doing), on stderr through pino. It is kept apart
 * from the journal, which records what was done to the host and is always written in full.
 */
export function createLogger(level: string): Logger {
  return pino({ name: 'runbook', level, base: null }, pino.destination({ dest: 2, sync: true }));
}
