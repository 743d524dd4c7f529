import { describe, expect, it } from 'vitest';
import type { JournalLine } from '../../src/journal/entries.js';
import { Ledger, type RecordedRun } from '../../src/topology/provenance.js';

interface StepSpec {
  id: string;
  do: string[][];
  /** changed: its do commands ran (exit status doExit, 0 by default); ok: found in place. */
  outcome: 'changed' | 'ok' | 'failed';
  doExit?: number;
}

/** Just enough of a run's journal for the ledger: the plan, each step's do commands and outcome. */
function run(id: string, steps: StepSpec[], options: { undone?: string[]; runbook?: string } = {}): RecordedRun {
  const lines: Array<Record<string, unknown>> = [
    { type: 'run-start', plan: { steps: steps.map((s) => ({ id: s.id, do: s.do.map((argv) => ({ argv })) })) } },
  ];
  for (const step of steps) {
    lines.push({ type: 'step-start', step: step.id });
    if (step.outcome !== 'ok')
      step.do.forEach((argv, index) => {
        lines.push({ type: 'command-start', step: step.id, phase: 'do', index, argv });
        lines.push({
          type: 'command-end',
          step: step.id,
          phase: 'do',
          index,
          exitCode: step.doExit ?? 0,
          timedOut: false,
        });
      });
    lines.push({ type: 'step-end', step: step.id, outcome: step.outcome });
  }
  if (options.undone !== undefined) {
    lines.push({ type: 'rollback-start', steps: options.undone });
    for (const step of options.undone) lines.push({ type: 'step-undone', step, outcome: 'undone' });
    lines.push({ type: 'rollback-end', status: 'rolled-back' });
  }
  return {
    run: { id, runbook: options.runbook ?? 'single-container', status: 'succeeded' },
    lines: lines as unknown as JournalLine[],
  };
}

const namespace: StepSpec = { id: 'namespace', do: [['ip', 'netns', 'add', 'container1']], outcome: 'changed' };
const pair: StepSpec = {
  id: 'veth-pair',
  do: [['ip', 'link', 'add', 'name', 'veth1', 'type', 'veth', 'peer', 'name', 'ceth1']],
  outcome: 'changed',
};
const move: StepSpec = {
  id: 'move',
  do: [['ip', 'link', 'set', 'dev', 'ceth1', 'netns', 'container1']],
  outcome: 'changed',
};
const address: StepSpec = {
  id: 'address',
  do: [['ip', '-n', 'container1', 'addr', 'add', '172.16.0.2/24', 'dev', 'ceth1']],
  outcome: 'changed',
};

describe('Ledger: who made what, from the journals (issue 29)', () => {
  it('marks what a do command that succeeded made as made by its run', () => {
    const ledger = Ledger.of([run('r-1', [namespace, pair, move, address])]);
    expect(ledger.netns('container1')).toMatchObject({ kind: 'made', run: { id: 'r-1' } });
    expect(ledger.link('', 'veth1')).toMatchObject({ kind: 'made', run: { id: 'r-1' } });
    expect(ledger.address('container1', 'ceth1', '172.16.0.2/24')).toMatchObject({ kind: 'made' });
  });

  it('follows a moved link into its new namespace, keeping who made it', () => {
    const ledger = Ledger.of([run('r-1', [pair]), run('r-2', [move])]);
    expect(ledger.link('container1', 'ceth1')).toMatchObject({ kind: 'made', run: { id: 'r-1' } });
    expect(ledger.link('', 'ceth1')).toEqual({ kind: 'unknown' });
  });

  it('counts nothing for a do command that failed: the run did not make it', () => {
    const ledger = Ledger.of([run('r-1', [{ ...namespace, outcome: 'failed', doExit: 1 }])]);
    expect(ledger.netns('container1')).toEqual({ kind: 'unknown' });
  });

  it('marks what an ok step found in place as found by its run, from its planned do commands', () => {
    const ledger = Ledger.of([run('r-1', [{ ...namespace, outcome: 'ok' }])]);
    expect(ledger.netns('container1')).toMatchObject({ kind: 'found', run: { id: 'r-1' } });
  });

  it('never lets a later run that found it hide the run that made it', () => {
    const ledger = Ledger.of([run('r-1', [namespace]), run('r-2', [{ ...namespace, outcome: 'ok' }])]);
    expect(ledger.netns('container1')).toMatchObject({ kind: 'made', run: { id: 'r-1' } });
  });

  it('forgets what a rollback undid, so a later run that made it again is its maker', () => {
    const rolledBack = run('r-1', [namespace, pair], { undone: ['veth-pair', 'namespace'] });
    expect(Ledger.of([rolledBack]).netns('container1')).toEqual({ kind: 'unknown' });
    expect(Ledger.of([rolledBack, run('r-2', [namespace])]).netns('container1')).toMatchObject({
      kind: 'made',
      run: { id: 'r-2' },
    });
  });

  it('counts a do command the process died in as made: it may have taken effect', () => {
    const died = run('r-1', []);
    (died.lines as unknown as Array<Record<string, unknown>>)[0] = {
      type: 'run-start',
      plan: { steps: [{ id: 'namespace', do: [{ argv: ['ip', 'netns', 'add', 'container1'] }] }] },
    };
    (died.lines as unknown as Array<Record<string, unknown>>).push({
      type: 'command-start',
      step: 'namespace',
      phase: 'do',
      index: 0,
      argv: ['ip', 'netns', 'add', 'container1'],
    });
    expect(Ledger.of([died]).netns('container1')).toMatchObject({ kind: 'made' });
  });

  it("matches a route only through the device the run named, and a setting only at the run's value", () => {
    const ledger = Ledger.of([
      run('r-1', [
        { id: 'route', do: [['ip', 'route', 'add', '172.16.0.0/24', 'dev', 'veth1']], outcome: 'changed' },
        { id: 'forward', do: [['sysctl', '-w', 'net.ipv4.ip_forward=1']], outcome: 'changed' },
      ]),
    ]);
    expect(ledger.route('', '172.16.0.0/24', 'veth1')).toMatchObject({ kind: 'made' });
    expect(ledger.route('', '172.16.0.0/24', 'br0')).toEqual({ kind: 'unknown' });
    expect(ledger.sysctl('', 'net.ipv4.ip_forward', '1')).toMatchObject({ kind: 'made' });
    // Set back to 0 by someone since: not the run's doing any more.
    expect(ledger.sysctl('', 'net.ipv4.ip_forward', '0')).toEqual({ kind: 'unknown' });
  });

  it('forgets everything inside a namespace a later run deleted', () => {
    const ledger = Ledger.of([
      run('r-1', [namespace, pair, move, address]),
      run('r-2', [{ id: 'gone', do: [['ip', 'netns', 'del', 'container1']], outcome: 'changed' }]),
    ]);
    expect(ledger.netns('container1')).toEqual({ kind: 'unknown' });
    expect(ledger.link('container1', 'ceth1')).toEqual({ kind: 'unknown' });
    expect(ledger.address('container1', 'ceth1', '172.16.0.2/24')).toEqual({ kind: 'unknown' });
    expect(ledger.link('', 'veth1')).toMatchObject({ kind: 'made' });
  });

  it('keeps names apart whatever characters they hold', () => {
    const odd: StepSpec = { id: 'odd', do: [['ip', 'netns', 'add', 'a b']], outcome: 'changed' };
    const ledger = Ledger.of([run('r-1', [odd])]);
    expect(ledger.netns('a b')).toMatchObject({ kind: 'made' });
    expect(ledger.netns('a')).toEqual({ kind: 'unknown' });
  });

  it('skips a journal that does not begin as a run', () => {
    const ledger = Ledger.of([{ run: { id: 'x', runbook: 'y', status: 'damaged' }, lines: [] }]);
    expect(ledger.netns('container1')).toEqual({ kind: 'unknown' });
  });
});
