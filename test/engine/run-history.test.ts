import { describe, expect, it } from 'vitest';
import type { JournalLine } from '../../src/journal/entries.js';
import { readRunHistory } from '../../src/engine/run-history.js';

/** Just enough of a journal for readRunHistory: what each `do` command did. */
function journal(...doEnds: Array<{ step: string; end?: Record<string, unknown> }>): JournalLine[] {
  const lines: Array<Record<string, unknown>> = [{ type: 'run-start' }];
  for (const { step, end } of doEnds) {
    lines.push({ type: 'command-start', step, phase: 'do', index: 0 });
    if (end !== undefined) lines.push({ type: 'command-end', step, phase: 'do', index: 0, timedOut: false, ...end });
  }
  return lines as unknown as JournalLine[];
}

describe('readRunHistory: what a run may have changed (issue 11, item 3)', () => {
  it('a do that succeeded changed its step for sure', () => {
    const history = readRunHistory(journal({ step: 'a', end: { exitCode: 0 } }));
    expect(history.changedSteps).toEqual(['a']);
    expect(history.cutOffSteps).toEqual([]);
  });

  it('a do that exited with a failure changed nothing', () => {
    const history = readRunHistory(journal({ step: 'a', end: { exitCode: 2 } }));
    expect(history.changedSteps).toEqual([]);
  });

  it('a do cut off by its timeout, by a signal or by a crash may have changed its step', () => {
    const history = readRunHistory(
      journal(
        { step: 'timed-out', end: { exitCode: undefined, signal: 'SIGTERM', timedOut: true } },
        { step: 'signalled', end: { exitCode: undefined, signal: 'SIGINT' } },
        { step: 'sure', end: { exitCode: 0 } },
        { step: 'crashed' },
      ),
    );
    expect(history.changedSteps).toEqual(['timed-out', 'signalled', 'sure', 'crashed']);
    expect(history.cutOffSteps).toEqual(['timed-out', 'signalled', 'crashed']);
  });

  it('a step cut off once and then done for sure (a resume) is changed for sure', () => {
    const history = readRunHistory(
      journal(
        { step: 'a', end: { exitCode: undefined, signal: 'SIGTERM', timedOut: true } },
        { step: 'a', end: { exitCode: 0 } },
      ),
    );
    expect(history.cutOffSteps).toEqual([]);
  });

  it('a command that could not start changed nothing', () => {
    const history = readRunHistory(journal({ step: 'a', end: { exitCode: undefined, startError: 'ENOENT' } }));
    expect(history.changedSteps).toEqual([]);
  });
});
