import { describe, expect, it } from 'vitest';
import { executeSteps } from '../../src/engine/runner.js';
import { MemoryJournal } from '../../src/journal/sink.js';
import { FakeHost } from '../helpers/fake-executor.js';
import { fakePlan, fakeStep } from '../helpers/plans.js';

describe('run machine', () => {
  it('does a missing step, skips a satisfied one', async () => {
    const host = new FakeHost();
    host.present.add('b');
    const journal = new MemoryJournal();
    const result = await executeSteps({ plan: fakePlan(fakeStep('a'), fakeStep('b')), executor: host, journal, signal: undefined });
    expect(result.status).toBe('succeeded');
    expect(result.steps.map((s) => [s.stepId, s.outcome])).toEqual([['a', 'changed'], ['b', 'ok']]);
    expect(host.calls).toEqual(['has a', 'create a', 'has a', 'has b']);
  });
});
