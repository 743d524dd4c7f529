import type { Plan, PlannedStep } from '../../src/plan/plan.js';

/** A step against FakeHost: `create X` / `has X` / `delete X`. */
export function fakeStep(id: string, extra: Partial<PlannedStep> = {}): PlannedStep {
  return {
    id,
    title: `make ${id}`,
    why: 'test',
    requires: [],
    capture: [],
    do: [{ argv: ['create', id], timeoutMs: 1000 }],
    verify: [{ argv: ['has', id], timeoutMs: 1000, expect: { exit: 0 } }],
    undo: [{ argv: ['delete', id], timeoutMs: 1000 }],
    diagnose: [],
    ...extra,
  };
}

export function fakePlan(...steps: PlannedStep[]): Plan {
  return { runbook: 'fake', description: 'a fake runbook', params: {}, steps };
}
