import { RunbookError } from '../errors.js';
import { journalFile } from '../journal/paths.js';
import { readJournal, verifyJournal, type ReadJournal } from '../journal/reader.js';
import type { RunIndex } from '../journal/run-index.js';
import { parseRunbook, readIncludeFromRecord } from '../runbook/load.js';
import type { Plan } from '../runbook/plan.js';
import { renderPlan } from '../runbook/render.js';
import { assertSameHost } from './host-binding.js';
import { readRunHistory, type RunHistory } from './run-history.js';

/** A run as its journal recorded it, ready to be resumed or rolled back. */
export interface RecordedRun {
  index: RunIndex;
  journal: ReadJournal;
  history: RunHistory;
  /** The plan rebuilt from the runbook text and parameters recorded when the run started. */
  plan: Plan;
}

/**
 * Opens a recorded run for a command that will act on it: the journal must be intact (hash
 * chain and index agree), and this process must be on the host the run changed.
 */
export function openRecordedRun(stateDir: string, index: RunIndex): RecordedRun {
  const journal = readJournal(journalFile(stateDir, index.id));
  const problem = verifyJournal(journal, index);
  if (problem !== undefined) {
    throw new RunbookError('journal-damaged', `the journal of run ${index.id} is damaged at entry ${problem.line}: ${problem.reason}; refusing to act on it`, {
      hint: `inspect it with: runbook journal ${index.id} --verify`,
    });
  }
  const history = readRunHistory(journal.lines);
  assertSameHost(index.id, history.start.host);
  const recorded = parseRunbook(
    history.start.runbookSource,
    `${history.start.runbookFile} (as recorded in run ${index.id})`,
    readIncludeFromRecord(history.start.runbookIncludes ?? []),
  );
  return { index, journal, history, plan: renderPlan(recorded.spec, history.start.params) };
}
