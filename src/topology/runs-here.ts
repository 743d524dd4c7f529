import { RunbookError } from '../errors.js';
import { isThisHost } from '../host/binding.js';
import type { RunStore } from '../store/run-store.js';
import type { RecordedRun } from './provenance.js';

/**
 * The one place `runbook topology` reads runs: the journals, through the store the door opened
 * (issue 22), of the runs made on the host this process acts on (its network namespace,
 * hostname and sandbox), oldest first. Runs of other hosts — a one-shot `--sandbox` run,
 * another sandbox — changed another kernel and say nothing about this one. A damaged run is
 * left out, with a note: its journal cannot be believed, and the others still can.
 */
export function readRunsHere(store: RunStore, onNote: (note: string) => void): RecordedRun[] {
  const runs: RecordedRun[] = [];
  const damaged = (id: string, why: string | undefined) =>
    onNote(`run ${id} is damaged and is not read (what it made is drawn as unknown): ${why}`);
  for (const index of store.listRuns()) {
    if (index.status === 'damaged') {
      damaged(index.id, index.damage);
      continue;
    }
    if (!isThisHost(index.host)) continue;
    try {
      const { lines } = store.readJournal(index.id);
      runs.push({ run: { id: index.id, runbook: index.runbook, status: index.status }, lines });
    } catch (error) {
      if (!(error instanceof RunbookError && error.code === 'journal-damaged')) throw error;
      damaged(index.id, error.message);
    }
  }
  return runs;
}
