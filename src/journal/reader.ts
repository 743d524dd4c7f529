import { existsSync } from 'node:fs';
import { RunbookError } from '../errors.js';
import {
  journalFormat,
  readableFormats,
  type JournalLine,
  type RollbackEndEntry,
  type RunStartEntry,
  type RunStatus,
} from './entries.js';
import { engineVersion } from '../version.js';
import { entryProblem } from './entry-schemas.js';
import { chainEnd as chainEndOf, verifyChain, type ChainEnd, type ChainProblem } from './hash-chain.js';
import { readNoFollow } from './safe-fs.js';

/**
 * The one journal parser: every module that reads a journal (resume, rollback, `runs`,
 * `journal`, the index rebuilt from a journal) goes through `readJournal`.
 */

export interface ReadJournal {
  file: string;
  lines: JournalLine[];
  /** The raw text of each line, for hash checks. */
  raw: string[];
  /** Set when the last line was torn (a crash mid-write) and was ignored. */
  tornTail: string | undefined;
}

/**
 * Reads a journal. A torn last line (no final newline: the process died mid-write) is
 * tolerated with a warning; a damaged line anywhere else is an error naming the line. Every
 * entry is validated against its kind's schema (entry-schemas.ts): one that is not what this
 * version reads is damage, named with its line, kind and field (exit 1, "damaged"). A
 * run-start entry of a journal format this version does not know is refused (exit 2).
 */
export function readJournal(file: string): ReadJournal {
  if (!existsSync(file)) throw damaged(file, `no journal at ${file}`);
  return parseJournal(readNoFollow(file), file);
}

export function parseJournal(text: string, file: string): ReadJournal {
  const segments = text.split('\n');
  const tail = segments.pop() ?? ''; // after the last newline: '' for an intact file
  const lines: JournalLine[] = [];
  const raw: string[] = [];
  // The format its run-start says (the first line); until then, this version's.
  let format = journalFormat;
  segments.forEach((segment, i) => {
    let line: unknown;
    try {
      line = JSON.parse(segment);
    } catch {
      line = undefined;
    }
    if (typeof line !== 'object' || line === null || typeof (line as { type?: unknown }).type !== 'string') {
      throw damaged(file, `${file}: line ${i + 1} is damaged (not a journal entry): ${segment.slice(0, 80)}`);
    }
    // The format first: a journal of a format this version does not know is refused as such,
    // not called damaged for the fields it does not know.
    const { type } = line as { type: string };
    if (type === 'run-start') format = checkFormat(line as RunStartEntry, file);
    // A later attempt by a newer version writes its entries in its own format from there on.
    if (type === 'attempt-start' && (line as { journalFormat?: unknown }).journalFormat !== undefined)
      format = checkFormat(line as unknown as RunStartEntry, file, i + 1);
    const problem = entryProblem(line as { type: string }, format);
    if (problem !== undefined) throw damaged(file, `${file}: line ${i + 1} is damaged: ${problem}`);
    const entry = line as JournalLine;
    lines.push(entry);
    raw.push(segment);
  });
  return { file, lines, raw, tornTail: tail === '' ? undefined : tail };
}

/**
 * The format a run-start (or a later attempt-start, at `line`) says the entries are in, when
 * this version reads it; refused otherwise.
 */
function checkFormat(
  start: Pick<RunStartEntry, 'journalFormat' | 'engineVersion'>,
  file: string,
  line?: number,
): number {
  const format: unknown = start.journalFormat ?? 1; // journals written before the field was added
  if (readableFormats.includes(format as number)) return format as number;
  const writer = typeof start.engineVersion === 'string' ? `runbook ${start.engineVersion}` : 'a later runbook version';
  const where = line === undefined ? '' : ` from line ${line} on`;
  throw new RunbookError(
    'journal-version',
    `${file} is in journal format ${JSON.stringify(format)}${where} (written by ${writer}), which this runbook ${engineVersion} (journal format ${journalFormat}, reads ${readableFormats.join(' and ')}) does not know; nothing was read or changed`,
    { hint: `use the runbook version that wrote it (${writer}) to resume, roll back or read this run` },
  );
}

function damaged(file: string, message: string): RunbookError {
  return new RunbookError('journal-damaged', message, {
    hint: `the journal was edited or the disk is damaged; nothing was run from it (${file})`,
  });
}

/** The run-start entry a run's journal must begin with. */
export function runStartOf(journal: ReadJournal): RunStartEntry {
  const first = journal.lines[0];
  if (first?.type !== 'run-start') {
    throw damaged(
      journal.file,
      first === undefined
        ? `${journal.file} holds no entry`
        : `${journal.file}: its first entry is a ${first.type} entry, not the run-start entry a run begins with`,
    );
  }
  return first;
}

export type VerifyProblem = ChainProblem;

/**
 * Checks the hash chain line by line, then that the run's index still finds its latest hash in
 * the journal (so entries removed from the end are noticed). Returns the first problem found.
 */
export function verifyJournal(journal: ReadJournal, index: ChainEnd | undefined): VerifyProblem | undefined {
  return verifyChain(journal.lines, journal.raw, index);
}

/** The last seq and hash of a journal, to continue its chain when a later process appends. */
export function chainEnd(journal: ReadJournal): ChainEnd {
  return chainEndOf(journal.raw);
}

/**
 * The status a journal's end gives a run whose process is gone: the last run-end or
 * rollback-end, unless something was started after it (then it was interrupted).
 */
export function statusFromEnd(journal: ReadJournal): RunStatus {
  for (let i = journal.lines.length - 1; i >= 0; i--) {
    const entry = journal.lines[i] as JournalLine;
    if (entry.type === 'run-end') return entry.status;
    if (entry.type === 'rollback-end') return rollbackEndStatus(entry);
    if (entry.type === 'replaced') return 'replaced';
    if (
      entry.type === 'confirm-pending' ||
      entry.type === 'watchdog-started' ||
      entry.type === 'timer-armed' ||
      entry.type === 'deadline-moved'
    )
      return 'awaiting-confirmation';
    if (entry.type === 'confirmed') return 'confirmed';
    if (
      entry.type === 'run-start' ||
      entry.type === 'attempt-start' ||
      entry.type === 'command-start' ||
      entry.type === 'step-start' ||
      entry.type === 'rollback-start'
    )
      return 'interrupted';
  }
  return 'interrupted';
}

/**
 * How a rollback's end leaves the run: an automatic revert (it has a reason) shows as `reverted`.
 * The undo of a replace (issue 23) that finished is not the run's end: its `replaced` entry
 * comes next, so a process that died in between left it interrupted.
 */
export function rollbackEndStatus(entry: RollbackEndEntry): RunStatus {
  if (entry.replacedBy !== undefined) return entry.status === 'rolled-back' ? 'interrupted' : entry.status;
  return entry.status === 'rolled-back' && entry.reason !== undefined ? 'reverted' : entry.status;
}
