import { describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/plan.js';
import { prepareRunbook } from '../../src/runbook/prepare.js';
import { shareIdenticalProbes } from '../../src/runbook/shared-probes.js';

/**
 * Identical probes are kept once in memory (issue 16: a large plan was mostly copies of one
 * probe list); the plan as data, and so as the journal records it, is unchanged.
 */

const distinctProbes = (plan: Plan) => new Set(plan.steps.flatMap((s) => s.diagnose)).size;
const probeCount = (plan: Plan) => plan.steps.reduce((n, s) => n + s.diagnose.length, 0);

describe('shareIdenticalProbes', () => {
  const { plan } = prepareRunbook('multi-container', ['count=3']);

  it("a rendered plan keeps each container's probes once, though every step lists them", () => {
    const container1 = plan.steps.filter((s) => s.id.endsWith('-1') && s.diagnose.length > 0);
    expect(container1.length).toBeGreaterThan(5);
    // Each step lists the probes that concern it (issue 26): equal probes are one object.
    const byJson = new Map<string, Set<object>>();
    for (const probe of container1.flatMap((s) => s.diagnose)) {
      const key = JSON.stringify(probe);
      byJson.set(key, (byJson.get(key) ?? new Set()).add(probe));
    }
    for (const objects of byJson.values()) expect(objects.size).toBe(1);
    expect([...byJson.keys()].length).toBeLessThan(container1.flatMap((s) => s.diagnose).length);
    expect(distinctProbes(plan)).toBeLessThan(probeCount(plan) / 5);
    // Another container's probes are its own; those that name no container (the bridge's) are shared.
    const container2 = plan.steps.find((s) => s.id === 'ping-from-host-2')!;
    const own = container2.diagnose.filter((p) => JSON.stringify(p).includes('container2'));
    const common = container2.diagnose.filter((p) => !/container\d|veth\d|ceth\d/.test(JSON.stringify(p)));
    expect(own.length).toBeGreaterThan(0);
    expect(common.length).toBeGreaterThan(0);
    const container1Probes = new Set(container1.flatMap((s) => s.diagnose));
    for (const probe of own) expect(container1Probes).not.toContain(probe);
    for (const probe of common) expect(container1Probes).toContain(probe);
  });

  it('changes nothing a reader of the plan can see: the JSON is the same, key for key', () => {
    const copied = JSON.parse(JSON.stringify(plan)) as Plan;
    expect(distinctProbes(copied)).toBe(probeCount(copied));
    const shared = shareIdenticalProbes(copied);
    expect(JSON.stringify(shared)).toBe(JSON.stringify(copied));
    expect(shared).toStrictEqual(copied);
    expect(distinctProbes(shared)).toBe(distinctProbes(plan));
  });

  it('a plan read back from JSON (plan cache, journal) shares its probes again; the input is not altered', () => {
    const copied = JSON.parse(JSON.stringify(plan)) as Plan;
    const before = copied.steps.map((s) => s.diagnose);
    shareIdenticalProbes(copied);
    expect(copied.steps.map((s) => s.diagnose)).toEqual(before);
    expect(copied.steps.every((s, i) => s.diagnose === before[i])).toBe(true);
  });
});
