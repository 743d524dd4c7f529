import { invalidInput } from '../errors.js';
import { listRunIndexes, type RunIndex } from './run-index.js';

/** Finds a run by its id, a unique prefix of it, or "latest". */
export function findRun(stateDir: string, idOrPrefix: string): RunIndex {
  const runs = listRunIndexes(stateDir);
  if (idOrPrefix === 'latest') {
    const latest = runs[runs.length - 1];
    if (latest === undefined) throw invalidInput(`no runs recorded in ${stateDir}`);
    return latest;
  }
  const matches = runs.filter((r) => r.id.startsWith(idOrPrefix));
  if (matches.length === 1) return matches[0] as RunIndex;
  if (matches.length === 0) throw invalidInput(`no run "${idOrPrefix}" in ${stateDir}`, 'list them with: runbook runs');
  throw invalidInput(`"${idOrPrefix}" matches ${matches.length} runs: ${matches.map((r) => r.id).join(', ')}`);
}
