import { closeSync, constants, ftruncateSync, openSync } from 'node:fs';
import { RunbookError } from '../errors.js';
import type { JournalEntry, RunStartEntry, RunStatus } from './entries.js';
import { journalFile } from './paths.js';
import { chainEnd, rollbackEndStatus, type ReadJournal } from './reader.js';
import { ownIdentity } from './process-identity.js';
import { ioError, ioErrorOfRun } from './safe-fs.js';
import { readRunIndex, writeRunIndex, type RunIndex } from './run-index.js';
import type { JournalSink } from './sink.js';
import { FileJournal } from './writer.js';

/**
 * A run's journal and its index, kept together: every entry is appended (durably) to the
 * journal, and at checkpoints (run and step boundaries) the index is rewritten with the
 * run's status and the journal's latest hash.
 */
export class RunJournal implements JournalSink {
  private readonly file: FileJournal;
  private index: RunIndex;

  private constructor(
    private readonly stateDir: string,
    index: RunIndex,
    chain?: { lastSeq: number; lastHash: string },
  ) {
    this.index = index;
    this.file = new FileJournal(journalFile(stateDir, index.id), chain ?? {});
  }

  /** Starts the journal of a new run; the run-start entry is its first line. */
  static create(stateDir: string, start: RunStartEntry): RunJournal {
    const journal = new RunJournal(stateDir, {
      id: start.runId,
      runbook: start.runbook,
      status: 'running',
      activity: 'run',
      started: new Date().toISOString(),
      finished: undefined,
      ...acting(),
      host: start.host,
      lastSeq: 0,
      lastHash: '',
    });
    // The index exists before the first entry, so that a run killed at any point after this
    // is listed (as interrupted) rather than invisible.
    writeRunIndex(stateDir, journal.index);
    journal.append(start);
    return journal;
  }

  /**
   * Reopens a run's journal to append to it (resume, rollback). A torn last line, left by a
   * crash mid-write, is cut off first so that the chain continues from the last whole entry.
   */
  static reopen(stateDir: string, runId: string, read: ReadJournal): RunJournal {
    const index = readRunIndex(stateDir, runId);
    if (index === undefined || index.status === 'damaged')
      throw new RunbookError('journal-damaged', `run ${runId}: ${index?.damage ?? 'it has neither index nor journal'}`);
    if (read.tornTail !== undefined) {
      const intactBytes = read.raw.reduce((n, line) => n + Buffer.byteLength(line) + 1, 0);
      cutTornTail(journalFile(stateDir, runId), intactBytes);
    }
    return new RunJournal(stateDir, { ...index, ...acting() }, chainEnd(read));
  }

  close(): void {
    this.file.close();
  }

  /** Appends an entry; a failed write names the run to resume or roll back once it is fixed. */
  append(entry: JournalEntry): void {
    try {
      this.appendAndCheckpoint(entry);
    } catch (error) {
      throw ioErrorOfRun(error, this.index.id);
    }
  }

  private appendAndCheckpoint(entry: JournalEntry): void {
    this.file.append(entry);
    const status = statusAfter(entry);
    const activity = entry.type === 'attempt-start' ? entry.kind : this.index.activity;
    const finished =
      status === undefined ? this.index.finished : status === 'running' ? undefined : new Date().toISOString();
    const checkpoint =
      status !== undefined ||
      entry.type === 'step-end' ||
      entry.type === 'step-undone' ||
      entry.type === 'replace-end' ||
      entry.type === 'watchdog-started' ||
      entry.type === 'timer-armed' ||
      entry.type === 'deadline-moved';
    this.index = {
      ...this.index,
      confirmBy:
        entry.type === 'confirm-pending' || entry.type === 'deadline-moved' ? entry.deadline : this.index.confirmBy,
      status: status ?? this.index.status,
      activity,
      finished,
      lastSeq: this.file.lastSeq,
      lastHash: this.file.lastHash,
    };
    if (checkpoint) writeRunIndex(this.stateDir, this.index);
  }
}

/** This process, as the one acting on a run (its index records it). */
function acting(): Pick<RunIndex, 'pid' | 'pidStartTime' | 'bootId'> {
  const me = ownIdentity();
  return { pid: me.pid, pidStartTime: me.startTime, bootId: me.bootId };
}

/** Cuts a journal back to its whole lines; never through a symbolic link. */
function cutTornTail(file: string, bytes: number): void {
  try {
    const fd = openSync(file, constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      ftruncateSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw ioError(error, file, 'cutting the torn last line off');
  }
}

/** The run status an entry moves the run to, if it changes it. */
function statusAfter(entry: JournalEntry): RunStatus | undefined {
  switch (entry.type) {
    case 'run-start':
    case 'attempt-start':
    case 'rollback-start':
      return 'running';
    case 'run-end':
      return entry.status === 'stopped' ? 'stopped' : entry.status;
    case 'rollback-end':
      // The undo of a replace goes on with its hand-over (the `replaced` entry).
      return entry.replacedBy !== undefined && entry.status === 'rolled-back' ? 'running' : rollbackEndStatus(entry);
    case 'replaced':
      return 'replaced';
    case 'confirm-pending':
      return 'awaiting-confirmation';
    case 'confirmed':
      return 'confirmed';
    default:
      return undefined;
  }
}
