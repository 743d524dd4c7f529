import { closeSync, fstatSync, ftruncateSync } from 'node:fs';
import path from 'node:path';
import { afterJournalEntry } from '../fault/kill-points.js';
import type { RunbookError } from '../errors.js';
import { isReadOnlyPhase } from '../plan/read-only-phases.js';
import { journalFormat, type JournalEntry } from './entries.js';
import { HashChain, type ChainEnd } from './hash-chain.js';
import { mkdirPrivate, openForAppend, syncFd, writeAll } from './safe-fs.js';
import type { JournalSink } from './sink.js';

/**
 * The on-disk journal of one run: NDJSON in pino's line format (level, time, the entry, msg), so
 * that pino's own tools (pino-pretty) can read a journal. The lines are composed here rather
 * than by a pino logger so that the hash chain (hash-chain.ts) is computed on exactly the bytes
 * written, and a failed write is known byte for byte.
 *
 * Durability, honestly: every entry is written with write(2) before `append` returns, so a
 * crashed or killed process (kill -9) never loses an appended entry. Surviving a power cut
 * needs fsync, which costs milliseconds here; it is done where it matters: on every
 * `command-start` of a command that may change the host (its intent is on stable storage before
 * it runs, together with everything written before it) and on the entries that open or close a
 * run or rollback. A power cut can therefore lose at most the results of the last command and
 * of the read-only checks after it, and resume re-checks the step they belonged to.
 *
 * A write that fails (a full disk, an I/O error) throws a message naming the file and the
 * cause; whatever part of the line reached the file is cut off again, and every later append
 * fails the same way, so the journal never holds half a line followed by whole ones.
 */
export class FileJournal implements JournalSink {
  private readonly fd: number;
  private readonly chain: HashChain;
  private failure: RunbookError | undefined;

  constructor(
    private readonly file: string,
    end: Partial<ChainEnd> = {},
  ) {
    mkdirPrivate(path.dirname(file));
    this.chain = new HashChain(end);
    this.fd = openForAppend(file);
  }

  /** seq and hash of the last line written (or found, when appending to an existing journal). */
  get lastSeq(): number {
    return this.chain.lastSeq;
  }
  get lastHash(): string {
    return this.chain.lastHash;
  }

  append(entry: JournalEntry): void {
    if (this.failure !== undefined) throw this.failure;
    // The format of what this version writes: for the whole journal on its run-start, for the
    // entries from here on on an attempt-start (a journal begun by an older version goes on in
    // this version's format).
    const stamped = entry.type === 'run-start' || entry.type === 'attempt-start' ? { ...entry, journalFormat } : entry;
    const line = JSON.stringify({
      level: 30, // pino's "info"
      time: new Date().toISOString(),
      ...this.chain.next(),
      ...stamped,
      msg: summarize(entry),
    });
    // The line's bytes are made once, for the file and for the hash: the run-start entry holds
    // the whole plan (5 MB for multi-container count=100), and each copy of it made for the
    // newline, the write and the hash showed in the run's peak memory (docs/performance.md).
    const length = Buffer.byteLength(line);
    const bytes = Buffer.allocUnsafe(length + 1);
    bytes.write(line);
    bytes[length] = 0x0a;
    const size = fstatSync(this.fd).size;
    try {
      writeAll(this.fd, bytes, this.file);
      if (needsFsync(entry)) syncFd(this.fd, this.file);
    } catch (error) {
      this.failure = error as RunbookError;
      try {
        ftruncateSync(this.fd, size); // a partial line would sit before any later whole one
      } catch {
        // the reader treats an unterminated last line as torn, and reopening cuts it off
      }
      throw error;
    }
    this.chain.advance(bytes.subarray(0, length));
    afterJournalEntry(entry);
  }

  private closed = false;

  /** Closes the file (everything appended is already written). Closing twice is harmless. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/**
 * The entries after which the journal is fsynced (see the class comment): the start of a
 * command that may change the host, and the entries that open or close a run or rollback.
 * A read-only command (a check, a probe) changes nothing a lost tail could hide, so its intent
 * is written (a kill -9 keeps it) but not fsynced; the next command that changes the host
 * fsyncs it together with its own intent.
 */
export function needsFsync(entry: JournalEntry): boolean {
  return entry.type === 'command-start' ? !isReadOnlyPhase(entry.phase) : durableTypes.has(entry.type);
}

const durableTypes: ReadonlySet<JournalEntry['type']> = new Set([
  'run-start',
  'attempt-start',
  'run-end',
  'rollback-start',
  'rollback-end',
  // A provisional run's deadline and its confirmation decide whether the host is reverted.
  'confirm-pending',
  'deadline-moved',
  'confirmed',
  // Who answers for which steps after a replace (issue 23): the claim, the hand-over, the end.
  'replaced',
  'replace-end',
]);

/** pino's `msg`: a one-line summary, so that pino-pretty shows something readable. */
function summarize(entry: JournalEntry): string {
  switch (entry.type) {
    case 'run-start':
      return `run ${entry.runId} of ${entry.runbook} started${entry.replaces === undefined ? '' : `, replacing run ${entry.replaces.map((r) => r.runId).join(', ')}`}`;
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
    case 'export':
      return `${entry.step} exported ${entry.name}=${entry.value}`;
    case 'final-pass-start':
      return `final pass: ${entry.steps.length} step(s) verified again`;
    case 'final-pass-end':
      return entry.status === 'held'
        ? 'final pass: every step still holds'
        : `final pass: ${entry.step} no longer holds`;
    case 'finding':
      return `${entry.step} diagnosis: ${entry.cause}`;
    case 'step-end':
      return `step ${entry.step} ${entry.outcome}${entry.reason === undefined ? '' : `: ${entry.reason}`}`;
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
    case 'timer-armed':
      return `timer ${entry.unit} armed for ${entry.deadline}`;
    case 'deadline-moved':
      return `deadline moved to ${entry.deadline} (${entry.why})`;
    case 'confirmed':
      return `confirmed by uid ${entry.user.uid}`;
    case 'replaced':
      return `replaced by run ${entry.by} (${entry.handedOver.length} step(s) handed over)`;
    case 'replace-end':
      return `replace ${entry.status}`;
  }
}
