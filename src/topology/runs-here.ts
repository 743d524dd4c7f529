import { RunbookError } from '../errors.js';
import { isThisHost } from '../host/binding.js';
import { journalFile } from '../journal/paths.js';
import { readJournal } from '../journal/reader.js';
import { listRunIndexes } from '../journal/run-index.js';
import type { RecordedRun } from './provenance.js';

/**
 * The one place `runbook topology` reads the state dir: the journals of the runs made on the
 * host this process acts on (its network namespace, hostname and sandbox), oldest first. Runs
 * of other hosts — a one-shot `--sandbox` run, another sandbox — changed another kernel and say
 * nothing about this one. A damaged run is left out, with a note: its journal cannot be
 * believed, and the others still can.
 */
export function readRunsHere(stateDir: string, onNote: (note: string) => void): RecordedRun[] {
  const runs: RecordedRun[] = [];
  for (const index of listRunIndexes(stateDir)) {
    if (index.status === 'damaged') {
      onNote(`run ${index.id} is damaged and is not read (what it made is drawn as unknown): ${index.damage}`);
      continue;
    }
    if (!isThisHost(index.host)) continue;
    try {
      const { lines } = readJournal(journalFile(stateDir, index.id));
      runs.push({ run: { id: index.id, runbook: index.runbook, status: index.status }, lines });
    } catch (error) {
      if (!(error instanceof RunbookError && error.code === 'journal-damaged')) throw error;
      onNote(`run ${index.id} is damaged and is not read (what it made is drawn as unknown): ${error.message}`);
    }
  }
  return runs;
}
