import { invalidInput, RunbookError } from '../errors.js';
import { journalFile } from './paths.js';
import { readJournal, runStartOf } from './reader.js';
import { listRunIndexes, type RunIndex } from './run-index.js';
import { advice, runbookCommand } from '../suggestion.js';

/**
 * Finds a run by its id, a unique prefix of it, or "latest" (the latest run that is not
 * damaged; a damaged one skipped is reported through `onNote`).
 */
export function findRun(stateDir: string, idOrPrefix: string, onNote?: (note: string) => void): RunIndex {
  const runs = listRunIndexes(stateDir);
  if (idOrPrefix === 'latest') {
    const skipped: string[] = [];
    for (const run of [...runs].reverse()) {
      const damage = damageOf(stateDir, run);
      if (damage !== undefined) {
        skipped.push(`skipped run ${run.id}, which is damaged: ${damage}`);
        continue;
      }
      for (const note of skipped) onNote?.(note);
      if (run.rebuilt !== undefined) onNote?.(run.rebuilt);
      return run;
    }
    if (runs.length > 0)
      throw new RunbookError('journal-damaged', `every run in ${stateDir} is damaged: ${skipped.join('; ')}`);
    throw invalidInput(`no runs recorded in ${stateDir}`);
  }
  const matches = runs.filter((r) => r.id.startsWith(idOrPrefix));
  if (matches.length === 1) {
    const match = matches[0] as RunIndex;
    if (match.rebuilt !== undefined) onNote?.(match.rebuilt);
    return match;
  }
  if (matches.length === 0)
    throw invalidInput(`no run "${idOrPrefix}" in ${stateDir}`, advice`list them with: ${runbookCommand('runs')}`);
  throw invalidInput(`"${idOrPrefix}" matches ${matches.length} runs: ${matches.map((r) => r.id).join(', ')}`);
}

/** Why a run cannot be read as a run (its files disagree, or its journal does not begin as one). */
function damageOf(stateDir: string, run: RunIndex): string | undefined {
  if (run.status === 'damaged') return run.damage;
  if (run.lastSeq === 0) return undefined; // killed before its first entry: nothing to misread
  try {
    runStartOf(readJournal(journalFile(stateDir, run.id)));
    return undefined;
  } catch (error) {
    if (error instanceof RunbookError && error.code === 'journal-damaged') return error.message;
    throw error;
  }
}
