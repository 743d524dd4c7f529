import type { JournalEntry } from './entries.js';

/**
 * Where the engine records what it does. `append` returns only once the entry is durable
 * (the file journal fsyncs), which is what lets a crashed run be resumed from the journal.
 */
export interface JournalSink {
  append(entry: JournalEntry): void;
}

/** An in-memory journal for tests and for read-only commands that record nothing. */
export class MemoryJournal implements JournalSink {
  readonly entries: JournalEntry[] = [];
  append(entry: JournalEntry): void {
    this.entries.push(entry);
  }
}
