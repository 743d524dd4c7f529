import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { pino, type DestinationStream, type Logger } from 'pino';
import { afterJournalEntry } from '../fault/kill-points.js';
import { genesisHash, type JournalEntry } from './entries.js';
import type { JournalSink } from './sink.js';

/**
 * The on-disk journal of one run: pino writing NDJSON through a synchronous destination, so
 * that pino's own tools (pino-pretty) can read a journal.
 *
 * Durability, honestly: every entry is written with write(2) before `append` returns, so a
 * crashed or killed process (kill -9) never loses an appended entry. Surviving a power cut
 * needs fsync, which costs milliseconds here; it is done where it matters: on every
 * `command-start` (the intent of a command is on stable storage before the command runs,
 * together with everything written before it) and on the entries that open or close a run or
 * rollback. A power cut can therefore lose at most the results of the last command, and resume
 * re-checks the step that command belonged to.
 *
 * Each line carries `seq` and `prev`, the sha256 of the previous line, forming a hash chain
 * that `runbook journal --verify` checks. The chain is computed on the exact bytes pino writes,
 * by a thin stream wrapper in front of the destination.
 */
export class FileJournal implements JournalSink {
  private readonly logger: Logger;
  private readonly fd: number;
  /** seq and hash of the last line written (or found, when appending to an existing journal). */
  lastSeq: number;
  lastHash: string;

  constructor(file: string, options: { lastSeq?: number; lastHash?: string } = {}) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.lastSeq = options.lastSeq ?? 0;
    this.lastHash = options.lastHash ?? genesisHash;
    this.fd = openSync(file, 'a');
    const destination = pino.destination({ dest: this.fd, sync: true });
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
    if (durableTypes.has(entry.type)) fsyncSync(this.fd);
    afterJournalEntry();
  }

  private closed = false;

  /** Closes the file (everything appended is already written). Closing twice is harmless. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/** The entries after which the journal is fsynced (see the class comment). */
const durableTypes: ReadonlySet<JournalEntry['type']> = new Set([
  'command-start',
  'run-start',
  'attempt-start',
  'run-end',
  'rollback-start',
  'rollback-end',
  // A provisional run's deadline and its confirmation decide whether the host is reverted.
  'confirm-pending',
  'confirmed',
]);

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
    case 'command-skipped':
      return `${entry.step} ${entry.phase}: command ${entry.index} skipped: ${entry.reason}`;
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
    case 'confirm-pending':
      return `awaiting confirmation until ${entry.deadline}`;
    case 'watchdog-started':
      return `watchdog pid ${entry.pid} started`;
    case 'confirmed':
      return `confirmed by uid ${entry.user.uid}`;
  }
}
