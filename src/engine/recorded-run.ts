import { existsSync, readFileSync } from 'node:fs';
import { RunbookError } from '../errors.js';
import { journalFile } from '../journal/paths.js';
import { readJournal, verifyJournal, type ReadJournal } from '../journal/reader.js';
import type { RunIndex } from '../journal/run-index.js';
import type { Plan } from '../runbook/plan.js';
import { assertSameHost } from './host-binding.js';
import { readRunHistory, type RunHistory } from './run-history.js';

/** A run as its journal recorded it, ready to be resumed or rolled back. */
export interface RecordedRun {
  index: RunIndex;
  journal: ReadJournal;
  history: RunHistory;
  /** The plan recorded when the run started (the runbook text and parameters, rendered). */
  plan: Plan;
}

/**
 * True for a run killed before its first journal entry was complete: it has an index but no
 * plan, and it changed nothing (its first command comes after several entries).
 */
export function recordedNothing(stateDir: string, index: RunIndex): boolean {
  const file = journalFile(stateDir, index.id);
  // A complete entry ends with a newline; no need to parse the journal to know there is one
  // (the caller then reads and verifies it anyway).
  return !existsSync(file) || !readFileSync(file).includes(0x0a);
}

/**
 * Opens a recorded run for a command that will act on it: the journal must be intact (hash
 * chain and index agree), and this process must be on the host the run changed.
 */
export function openRecordedRun(stateDir: string, index: RunIndex): RecordedRun {
  const journal = readJournal(journalFile(stateDir, index.id));
  const problem = verifyJournal(journal, index);
  if (problem !== undefined) {
    throw new RunbookError(
      'journal-damaged',
      `the journal of run ${index.id} is damaged at entry ${problem.line}: ${problem.reason}; refusing to act on it`,
      {
        hint: `inspect it with: runbook journal ${index.id} --verify`,
      },
    );
  }
  const history = readRunHistory(journal.lines);
  assertSameHost(index.id, history.start.host);
  // The plan recorded at the start, not the runbook file as it is now: resume and rollback act
  // on what the run started with.
  return { index, journal, history, plan: history.start.plan };
}
