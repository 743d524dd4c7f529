import type { RunStartEntry } from '../../src/journal/entries.js';

/**
 * A whole run-start entry, as the writer would record one (journals are validated on read:
 * test/journal/entry-schemas.test.ts), for tests that write journals by hand.
 */
export function runStartEntry(extra: Partial<RunStartEntry> = {}): RunStartEntry {
  return {
    type: 'run-start',
    runId: 'r',
    runbook: 'single-container',
    runbookFile: '/x/single-container.yaml',
    runbookHash: 'a'.repeat(64),
    runbookSource: 'name: single-container\n',
    runbookIncludes: [],
    params: {},
    plan: { runbook: 'single-container', description: 'test', params: {}, steps: [] },
    user: { uid: 0, sudoUser: undefined },
    host: { hostname: 'h', netns: 'net:[1]', sandbox: undefined },
    engineVersion: '0.1.0',
    stopAfter: undefined,
    ...extra,
  };
}
