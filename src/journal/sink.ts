import type { JournalEntry } from './entries.js';

/**
 * Where the engine records what it does. `append` returns only once the entry is written (the
 * file journal also fsyncs before each command: see writer.ts), which is what lets a crashed
 * run be resumed or rolled back from its journal.
 */
export interface JournalSink {
  append(entry: JournalEntry): void;
  /** False for a journal nothing is written to disk from (a crash there loses nothing). */
  readonly durable?: boolean;
}

/** An in-memory journal for tests and for read-only commands that record nothing. */
export class MemoryJournal implements JournalSink {
  readonly entries: JournalEntry[] = [];
  readonly durable = false;
  append(entry: JournalEntry): void {
    this.entries.push(entry);
  }
}
