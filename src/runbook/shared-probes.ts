import type { Plan, PlannedProbe } from '../plan/plan.js';

/**
 * The same plan, with identical probes kept once. The steps of a loop body often share one
 * probe list (a YAML anchor such as `&container-probes`), rendered with the same values: 13
 * probes × 12 steps per container of multi-container were most of a large plan's memory
 * (docs/performance.md). A plan is read-only, so its steps can share the objects. Applied to
 * every plan the engine runs: rendered, read back from the plan cache, or from a journal's
 * run-start entry (JSON gives each step its own copy, and so does the journal: sharing is in
 * memory only).
 */
export function shareIdenticalProbes(plan: Plan): Plan {
  const keep = probeKeeper();
  return { ...plan, steps: plan.steps.map((step) => ({ ...step, diagnose: step.diagnose.map(keep) })) };
}

/**
 * Returns each probe it is given, or the identical one (same JSON) it was given before. The
 * renderer keeps each probe as it renders it, so that no unshared copy of a large plan is ever
 * held (measured: 10 MiB more peak memory for multi-container count=100 when shared afterwards).
 */
export function probeKeeper(): (probe: PlannedProbe) => PlannedProbe {
  const kept = new Map<string, PlannedProbe>();
  return (probe) => {
    const key = JSON.stringify(probe);
    const same = kept.get(key);
    if (same !== undefined) return same;
    kept.set(key, probe);
    return probe;
  };
}
