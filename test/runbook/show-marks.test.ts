import { describe, expect, it } from 'vitest';
import { runbookInProcess } from '../helpers/cli-in-process.js';

/**
 * `show` and `graph` run nothing, so they are run here in process (main, as bin/runbook.js
 * calls it): they must show what issue 12's options do (stdin, ok_exit, conditions, retries,
 * extracting captures) and mark a step that cannot be undone.
 */

async function runbook(args: string[]) {
  const result = await runbookInProcess(args);
  expect(result.exitCode, result.stderr).toBe(0);
  return result.stdout;
}

describe('show and graph', () => {
  it('show prints stdin, conditions and captures kept exactly, and marks undo: none', async () => {
    const out = await runbook(['show', 'forward-filter', '--set', 'subnets=192.0.2.0/24']);
    expect(out).toContain('do:     tee -a -- /etc/sysctl.d/90-runbook-forward.conf <<< "net.ipv4.ip_forward = 1\\n"');
    expect(out).toContain('(only if: test -z \'{{previous_type}}\' gives {"exit":0})');
    expect(out).toContain(
      'capture previous_content: cat -- /etc/runbook-forward-filter.conf   (keeps the output exactly)',
    );
    expect(out).toContain(
      'verify: cmp -s -- - /etc/runbook-forward-filter.conf <<< "# written by runbook forward-filter\\n',
    );
    expect(out).toContain('undo:   none (not undoable: packet counters cannot be set back to what they were)');
    expect(out).toContain('2. filter-1: Send traffic from 192.0.2.0/24 to DROP in RUNBOOK-FILTER');
    expect(out).not.toContain('filter-2');
  });

  it('graph marks the step that cannot be undone, and only that one, in its list of steps', async () => {
    const out = await runbook(['graph', 'forward-filter']);
    const marked = out.split('\n').filter((l) => l.includes('not undoable'));
    expect(marked).toEqual(['    zero-counters (not undoable, packet counters cannot be set back to what they were)']);
    const json = JSON.parse(await runbook(['graph', 'forward-filter', '--format', 'json'])) as {
      steps: Array<{ id: string; noUndo?: string }>;
    };
    expect(json.steps.filter((s) => s.noUndo !== undefined)).toEqual([
      { id: 'zero-counters', noUndo: 'packet counters cannot be set back to what they were' },
    ]);
  });
});
