import type { RunStore } from '../store/run-store.js';
import { readIncludeFromDisk, resolveRunbookToRun } from './locate.js';
import {
  lookupPlan,
  planCacheEnabled,
  recordingIncludeReader,
  storePlan,
  type IncludeRead,
  type PlanInputs,
} from './plan-cache.js';
import type { PreparedRunbook } from './prepare.js';
import { readRunbookText } from './search-path.js';

export interface CachedPreparation extends PreparedRunbook {
  /** Whether the plan was read back from <state-dir>/plans/ (no YAML parsed, no schema loaded). */
  fromCache: boolean;
  /**
   * Stores a freshly parsed plan in the cache (nothing on a hit, or with the cache off, or in a
   * store opened for reading); it never throws.
   */
  remember: () => void;
}

/**
 * prepareRunbook (prepare.ts) for `run` and `check`, through the plan cache (plan-cache.ts): the
 * same result, the same errors. On a hit neither the YAML parser nor the schema is imported;
 * on a miss they are, the runbook is parsed as always, and `remember` stores the plan.
 */
export async function prepareRunbookCached(
  nameOrPath: string,
  setFlags: readonly string[],
  options: { inSandbox: boolean; store: RunStore },
): Promise<CachedPreparation> {
  // What a full parse finds first, with the same errors; refused if it may not be believed.
  const file = resolveRunbookToRun(nameOrPath);
  const cacheOn = planCacheEnabled();
  if (cacheOn) {
    let hit: PreparedRunbook | undefined;
    try {
      const inputs: PlanInputs = { file, source: readRunbookText(file), setFlags, inSandbox: options.inSandbox };
      hit = lookupPlan(options.store, inputs);
    } catch {
      hit = undefined; // e.g. the file cannot be read: the full parse reports it
    }
    if (hit !== undefined) return { ...hit, fromCache: true, remember: () => undefined };
  }
  const { prepareRunbookFile } = await import('./prepare.js');
  const reads: IncludeRead[] = [];
  const prepared = prepareRunbookFile(
    file,
    setFlags,
    { inSandbox: options.inSandbox, shownAs: nameOrPath },
    recordingIncludeReader(reads, readIncludeFromDisk),
  );
  return {
    ...prepared,
    fromCache: false,
    remember: () => {
      if (cacheOn && options.store.access === 'write')
        storePlan(options.store, prepared, { setFlags, inSandbox: options.inSandbox, reads });
    },
  };
}
