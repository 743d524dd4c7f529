import { loadRunbook, type LoadedRunbook } from './load.js';
import { parseSetFlags, resolveParams, type ParamValues } from './params.js';
import { renderPlan } from './render.js';
import type { Plan } from './plan.js';

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
  options: { inSandbox?: boolean } = {},
): PreparedRunbook {
  const runbook = loadRunbook(nameOrPath);
  const params = resolveParams(runbook.spec, parseSetFlags(setFlags), runbook.file, options);
  return { runbook, params, plan: renderPlan(runbook.spec, params) };
}
