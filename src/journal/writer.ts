import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pino, type DestinationStream, type Logger } from 'pino';
import { afterJournalEntry } from '../fault/kill-points.js';
import type { JournalEntry } from './entries.js';
import { genesisHash } from './entries.js';
import type { JournalSink } from './sink.js';

/**
 * The on-disk journal of one run: pino writing NDJSON through a synchronous destination that
 * fsyncs every line, so that `append` returns only once the entry is durable, and so that
 * pino's own tools (pino-pretty) can read a journal.
 *
 * Each line carries `seq` and `prev`, the sha256 of the previous line, forming a hash chain
 * that `runbook journal --verify` checks. The chain is computed on the exact bytes pino writes,
 * by a thin stream wrapper in front of the destination.
 */
export class FileJournal implements JournalSink {
  private readonly logger: Logger;
  /** seq and hash of the last line written (or found, when appending to an existing journal). */
  lastSeq: number;
  lastHash: string;

  constructor(file: string, options: { lastSeq?: number; lastHash?: string } = {}) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.lastSeq = options.lastSeq ?? 0;
    this.lastHash = options.lastHash ?? genesisHash;
    const destination = pino.destination({ dest: file, sync: true, fsync: true, append: true });
    const chained: DestinationStream = {
      write: (line: string) => {
        destination.write(line);
        this.lastHash = hashLine(line.endsWith('\n') ? line.slice(0, -1) : line);
      },
    };
    this.logger = pino(
      {
        base: null, // no pid/hostname on every line: the run-start entry records them once
        timestamp: pino.stdTimeFunctions.isoTime,
        mixin: () => ({ seq: this.lastSeq + 1, prev: this.lastHash }),
      },
      chained,
    );
  }

  append(entry: JournalEntry): void {
    this.logger.info(entry, summarize(entry));
    this.lastSeq += 1;
    afterJournalEntry();
  }
}

export function hashLine(line: string): string {
  return createHash('sha256').update(line).digest('hex');
}

/** pino's `msg`: a one-line summary, so that pino-pretty shows something readable. */
function summarize(entry: JournalEntry): string {
  switch (entry.type) {
    case 'run-start':
      return `run ${entry.runId} of ${entry.runbook} started`;
    case 'attempt-start':
      return `${entry.kind} started by pid ${entry.pid}`;
    case 'step-start':
      return `step ${entry.step} started`;
    case 'command-start':
      return `${entry.step} ${entry.phase}: ${entry.argv.join(' ')}`;
    case 'command-end':
      return `${entry.step} ${entry.phase}: exit ${entry.exitCode ?? entry.signal ?? 'none'} in ${entry.durationMs} ms`;
    case 'check':
      return `${entry.step} ${entry.phase}: ${entry.ok ? 'holds' : `does not hold: ${entry.reason}`}`;
    case 'capture':
      return `${entry.step} captured ${entry.name}=${entry.value}`;
    case 'finding':
      return `${entry.step} diagnosis: ${entry.cause}`;
    case 'step-end':
      return `step ${entry.step} ${entry.outcome}`;
    case 'run-end':
      return `run ${entry.status}`;
    case 'rollback-start':
      return `rollback of ${entry.steps.length} step(s) started`;
    case 'step-undone':
      return `step ${entry.step} ${entry.outcome}`;
    case 'rollback-end':
      return `rollback ${entry.status}`;
  }
}
