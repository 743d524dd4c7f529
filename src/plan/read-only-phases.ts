import type { Phase } from './plan.js';

/**
 * The phases whose commands the runbook format requires to be read-only (docs/runbook-format.md:
 * checks, preconditions, probes, a step's `when` and `export`). They need no fsync before they run (nothing on the host
 * changes that a lost journal tail could hide) and take the light spawn path. `capture` is not
 * among them: the format does not require it to be read-only, so it is treated like `do`.
 */
const readOnlyPhases: ReadonlySet<Phase> = new Set<Phase>([
  'check',
  'requires',
  'verify',
  'diagnose',
  'undo-check',
  // Issue 28: a step's `when`, its exports (read once it holds) and the final pass's checks.
  'when',
  'export',
  'final-verify',
  // Issue 22: what a container holds, read before an undo deletes it.
  'undo-guard',
]);

export function isReadOnlyPhase(phase: Phase): boolean {
  return readOnlyPhases.has(phase);
}
