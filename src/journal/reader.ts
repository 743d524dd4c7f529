import { existsSync, readFileSync } from 'node:fs';
import { RunbookError } from '../errors.js';
import { genesisHash, type JournalLine } from './entries.js';
import type { RunIndex } from './run-index.js';
import { hashLine } from './writer.js';

export interface ReadJournal {
  lines: JournalLine[];
  /** The raw text of each line, for hash checks. */
  raw: string[];
  /** Set when the last line was torn (a crash mid-write) and was ignored. */
  tornTail: string | undefined;
}

/**
 * Reads a journal. A torn last line (no final newline: the process died mid-write) is
 * tolerated with a warning; a damaged line anywhere else is an error naming the line.
 */
export function readJournal(file: string): ReadJournal {
  if (!existsSync(file)) throw new RunbookError('invalid-input', `no journal at ${file}`);
  const text = readFileSync(file, 'utf8');
  const segments = text.split('\n');
  const tail = segments.pop() ?? ''; // after the last newline: '' for an intact file
  const lines: JournalLine[] = [];
  const raw: string[] = [];
  segments.forEach((segment, i) => {
    try {
      lines.push(JSON.parse(segment) as JournalLine);
      raw.push(segment);
    } catch {
      throw new RunbookError(
        'journal-damaged',
        `${file}: line ${i + 1} is damaged (not a JSON object): ${segment.slice(0, 80)}`,
        {
          hint: 'the journal was edited or the disk is damaged; see: runbook journal <run-id> --verify',
        },
      );
    }
  });
  return { lines, raw, tornTail: tail === '' ? undefined : tail };
}

export interface VerifyProblem {
  line: number;
  reason: string;
}

/**
 * Checks the hash chain line by line, then that the run's index still finds its latest hash in
 * the journal (so entries removed from the end are noticed). Returns the first problem found.
 */
export function verifyJournal(journal: ReadJournal, index: RunIndex | undefined): VerifyProblem | undefined {
  let prev = genesisHash;
  for (let i = 0; i < journal.lines.length; i++) {
    const line = journal.lines[i] as JournalLine;
    if (line.seq !== i + 1)
      return {
        line: i + 1,
        reason: `sequence number ${line.seq} where ${i + 1} was expected (entries removed or reordered)`,
      };
    if (line.prev !== prev)
      return {
        line: i + 1,
        reason: 'hash of the previous entry does not match (an entry before it was altered, removed or reordered)',
      };
    prev = hashLine(journal.raw[i] as string);
  }
  if (index !== undefined) {
    const count = journal.lines.length;
    if (index.lastSeq > count) {
      return {
        line: count + 1,
        reason: `the run's index records ${index.lastSeq} entries but the journal has ${count} (entries removed from the end)`,
      };
    }
    const atIndex = journal.raw[index.lastSeq - 1];
    if (index.lastSeq > 0 && (atIndex === undefined || hashLine(atIndex) !== index.lastHash)) {
      return {
        line: index.lastSeq,
        reason: "this entry's hash differs from the one recorded in the run's index (it was altered)",
      };
    }
  }
  return undefined;
}

/** The last seq and hash of a journal, to continue its chain when a later process appends. */
export function chainEnd(journal: ReadJournal): { lastSeq: number; lastHash: string } {
  const last = journal.raw[journal.raw.length - 1];
  return { lastSeq: journal.lines.length, lastHash: last === undefined ? genesisHash : hashLine(last) };
}
