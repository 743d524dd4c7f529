import { parseRunbook, type LoadedRunbook } from './load.js';
import { readIncludeFromDisk, resolveRunbookFile, type IncludeReader } from './locate.js';
import { parseSetFlags, resolveParams, type ParamValues, type ResolveOptions } from './params.js';
import { renderPlan } from './render.js';
import { readRunbookText } from './search-path.js';
import type { Plan } from '../plan/plan.js';

export interface PreparedRunbook {
  runbook: LoadedRunbook;
  params: ParamValues;
  plan: Plan;
}

/**
 * Everything that can be checked before touching the host: the file is found, parsed and
 * valid, every --set names a parameter and every value has its declared type.
 */
export function prepareRunbook(
  nameOrPath: string,
  setFlags: readonly string[],
  options: ResolveOptions = {},
): PreparedRunbook {
  // Hints name the runbook the way the user did: `runbook show ./mine.yaml`, not its name.
  return prepareRunbookFile(resolveRunbookFile(nameOrPath), setFlags, { shownAs: nameOrPath, ...options });
}

/** The same, for a file already found (`resolveRunbookFile`), reading its includes with `readInclude`. */
export function prepareRunbookFile(
  file: string,
  setFlags: readonly string[],
  options: ResolveOptions = {},
  readInclude: IncludeReader = readIncludeFromDisk,
): PreparedRunbook {
  const runbook = parseRunbook(readRunbookText(file), file, readInclude);
  const params = resolveParams(runbook.spec, parseSetFlags(setFlags), runbook.file, options);
  return { runbook, params, plan: renderPlan(runbook.spec, params, options) };
}
