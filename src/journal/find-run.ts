import { invalidInput } from '../errors.js';
import { listRunIndexes, type RunIndex } from './run-index.js';

/**
 * Finds a run by its id, a unique prefix of it, or "latest" (the latest run that is not
 * damaged; a damaged one skipped is reported through `onNote`).
 */
export function findRun(stateDir: string, idOrPrefix: string, onNote?: (note: string) => void): RunIndex {
  const runs = listRunIndexes(stateDir);
  if (idOrPrefix === 'latest') {
    const newestFirst = [...runs].reverse();
    const latest = newestFirst.find((r) => r.status !== 'damaged');
    for (const skipped of newestFirst.slice(0, latest === undefined ? undefined : newestFirst.indexOf(latest)))
      onNote?.(`skipped run ${skipped.id}, which is damaged: ${skipped.damage}`);
    if (latest === undefined) throw invalidInput(`no runs recorded in ${stateDir}`);
    if (latest.rebuilt !== undefined) onNote?.(latest.rebuilt);
    return latest;
  }
  const matches = runs.filter((r) => r.id.startsWith(idOrPrefix));
  if (matches.length === 1) {
    const match = matches[0] as RunIndex;
    if (match.rebuilt !== undefined) onNote?.(match.rebuilt);
    return match;
  }
  if (matches.length === 0) throw invalidInput(`no run "${idOrPrefix}" in ${stateDir}`, 'list them with: runbook runs');
  throw invalidInput(`"${idOrPrefix}" matches ${matches.length} runs: ${matches.map((r) => r.id).join(', ')}`);
}
