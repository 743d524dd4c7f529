import type { RunIndex, RunStore } from '../store/run-store.js';
import { recordedNothing } from './recorded-run.js';
import { readRunHistory, stepsInEffect } from './run-history.js';

/**
 * Whether a run still has something to undo: a step it changed that no rollback has undone, or
 * a rollback that started and did not finish (killed after its last undo, before its end:
 * running rollback again closes it).
 */
export function hasChangesLeft(store: RunStore, index: RunIndex): boolean {
  // Rolled back by hand, or reverted because nobody confirmed it (issue 15): nothing is left.
  if (
    index.status === 'rolled-back' ||
    index.status === 'reverted' ||
    index.status === 'replaced' ||
    recordedNothing(store, index)
  )
    return false;
  const history = readRunHistory(store.readJournal(index.id).lines);
  const unfinishedRollback = history.rollbackStarted && !history.rollbackFinished;
  return unfinishedRollback || stepsInEffect(history).length > 0;
}
