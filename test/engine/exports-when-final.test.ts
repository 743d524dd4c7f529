import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkSteps } from '../../src/engine/check.js';
import { resumeRun } from '../../src/engine/resume.js';
import { rollbackRun } from '../../src/engine/rollback.js';
import { runRunbook } from '../../src/engine/run.js';
import type { CommandRequest, CommandResult, Executor } from '../../src/exec/types.js';
import type { JournalLine } from '../../src/journal/entries.js';
import { journalFile } from '../../src/journal/paths.js';
import { readJournal } from '../../src/journal/reader.js';
import { MemoryJournal } from '../../src/journal/sink.js';
import { runbookHashNow } from '../../src/runbook/load.js';
import { prepareRunbook } from '../../src/runbook/prepare.js';
import { storeAt } from '../helpers/store.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 28 in the engine, with a fake host and the real journal: values a step exports reach the
 * later steps and are read back from the journal by resume and rollback (item 1); `when:` skips
 * a step and says why (item 4); the final pass finds a step a later step undid (item 8).
 */

/**
 * A fake kernel: `create X [V]` makes X (with value V), `delete X` removes it, `has X [V]` holds
 * when X exists (with value V when given), `value X` prints X's value, `cond yes|no` holds for
 * yes. Values come from `next`, which a test changes to see whether a value is read again.
 */
class ValueHost implements Executor {
  readonly calls: string[] = [];
  readonly things = new Map<string, string>();
  next = 'v1';

  async run({ argv }: CommandRequest): Promise<CommandResult> {
    this.calls.push(argv.join(' '));
    const result = (exitCode: number, stdout = ''): CommandResult => ({
      exitCode,
      signal: undefined,
      stdout,
      stderr: exitCode === 0 ? '' : 'no',
      durationMs: 1,
      timedOut: false,
      startError: undefined,
    });
    const [verb, thing = '', value] = argv as [string, string?, string?];
    switch (verb) {
      case 'create':
        if (this.things.has(thing)) return result(2);
        this.things.set(thing, value ?? this.next);
        return result(0);
      case 'delete':
        this.things.delete(thing);
        return result(0);
      case 'has':
        return result(this.things.has(thing) && (value === undefined || this.things.get(thing) === value) ? 0 : 1);
      case 'value':
        return this.things.has(thing) ? result(0, `${this.things.get(thing)}\n`) : result(1);
      case 'cond':
        return result(thing === 'yes' ? 0 : 1);
      default:
        return result(0);
    }
  }
}

let dir: string;
let stateDir: string;
let file: string;
let host: ValueHost;

beforeEach(() => {
  dir = tempDir('runbook-issue28-');
  stateDir = path.join(dir, 'state');
  file = path.join(dir, 'r.yaml');
  host = new ValueHost();
});
afterEach(() => removeDir(dir));

function write(text: string): void {
  writeFileSync(file, text);
}

function run(extra: Partial<Parameters<typeof runRunbook>[0]> = {}, set: string[] = []) {
  const { runbook, params } = prepareRunbook(file, set);
  return runRunbook({ runbook, params, store: storeAt(stateDir), executor: host, ...extra });
}

function journal(runId: string): JournalLine[] {
  return readJournal(journalFile(stateDir, runId)).lines;
}

const exporting = `name: exporting
description: a value read from the host in one step, used by the next
steps:
  - id: a
    title: a
    why: x
    do: [[create, a]]
    verify: [{ run: [has, a] }]
    undo: [[delete, a]]
    export:
      v: [value, a]
  - id: b
    title: b
    why: x
    do: [[create, b, "{{v}}"]]
    verify: [{ run: [has, b, "{{v}}"] }]
    undo: [[delete, b, "{{v}}"]]
`;

describe('exported values (item 1)', () => {
  it('reach the next step; a resume after the exporting step uses the journaled value, never reads it again', async () => {
    write(exporting);
    const controller = new AbortController();
    const first = await run({ signal: controller.signal, onStep: (r) => r.stepId === 'a' && controller.abort() });
    expect(first.status).toBe('interrupted');
    expect(journal(first.runId).filter((l) => l.type === 'export')).toMatchObject([
      { step: 'a', name: 'v', value: 'v1' },
    ]);

    // The host changes: read again, the value would now be v2.
    host.things.set('a', 'v2');
    host.calls.length = 0;
    const resumed = await resumeRun({
      store: storeAt(stateDir),
      runId: undefined,
      executor: host,
      currentRunbookHash: runbookHashNow,
    });
    expect(resumed.kind === 'resumed' && resumed.status).toBe('succeeded');
    expect(host.calls).not.toContain('value a');
    expect(host.calls).toContain('create b v1');
    expect(host.things.get('b')).toBe('v1');

    // Rollback undoes b with the journaled value too, and checks it gone with it.
    host.calls.length = 0;
    const rolled = await rollbackRun({ store: storeAt(stateDir), runId: undefined, executor: host });
    expect(rolled.kind === 'rollback' && rolled.status).toBe('rolled-back');
    expect(host.calls).toContain('delete b v1');
    expect(host.calls).toContain('has b v1');
    expect(host.calls).not.toContain('value a');
  });

  it('a step that exports is read again only when it runs again, and the latest value is the one used', async () => {
    write(exporting.replace('      v: [value, a]\n', '      v: [value, a]\n      w: [value, a]\n'));
    host.next = 'old';
    // Interrupted while a reads its second value: v is journaled, a has not ended. The resume
    // runs a again (found in place), which reads both again: the host's value now.
    const controller = new AbortController();
    const first = await run({
      signal: controller.signal,
      onCommand: (e) => e.phase === 'export' && e.argv.join(' ') === 'value a' && controller.abort(),
    });
    expect(first.status).toBe('interrupted');
    expect(
      journal(first.runId)
        .filter((l) => l.type === 'export')
        .map((l) => (l as { value: string }).value),
    ).toEqual([]);
    host.things.set('a', 'new');
    const resumed = await resumeRun({
      store: storeAt(stateDir),
      runId: undefined,
      executor: host,
      currentRunbookHash: runbookHashNow,
    });
    expect(resumed.kind === 'resumed' && resumed.status).toBe('succeeded');
    const exports = journal(first.runId).filter((l) => l.type === 'export');
    expect(exports.map((l) => [(l as { name: string }).name, (l as { value: string }).value])).toEqual([
      ['v', 'new'],
      ['w', 'new'],
    ]);
    expect(host.things.get('b')).toBe('new');
  });

  it('an interrupt between two exports keeps the first journaled; the resume reads both again, the latest wins', async () => {
    write(exporting.replace('      v: [value, a]\n', '      v: [value, a]\n      w: [value, a, w]\n'));
    host.next = 'old';
    const controller = new AbortController();
    const first = await run({
      signal: controller.signal,
      onCommand: (e) => e.phase === 'export' && e.argv.join(' ') === 'value a w' && controller.abort(),
    });
    expect(first.status).toBe('interrupted');
    expect(
      journal(first.runId)
        .filter((l) => l.type === 'export')
        .map((l) => (l as { value: string }).value),
    ).toEqual(['old']);
    host.things.set('a', 'new');
    const resumed = await resumeRun({
      store: storeAt(stateDir),
      runId: undefined,
      executor: host,
      currentRunbookHash: runbookHashNow,
    });
    expect(resumed.kind === 'resumed' && resumed.status).toBe('succeeded');
    const values = journal(first.runId)
      .filter((l) => l.type === 'export' && l.name === 'v')
      .map((l) => (l as { value: string }).value);
    expect(values).toEqual(['old', 'new']);
    expect(host.things.get('b')).toBe('new');
  });

  it('`check` reads exports live, and cannot check a step whose exporter does not hold', async () => {
    write(exporting);
    host.things.set('a', 'v9');
    host.things.set('b', 'v9');
    const { plan } = prepareRunbook(file, []);
    const held = await checkSteps({ plan, executor: host, journal: new MemoryJournal(), signal: undefined });
    expect(held.status).toBe('ok');
    expect(host.calls).toContain('has b v9');

    host.things.delete('a');
    const missing = await checkSteps({ plan, executor: host, journal: new MemoryJournal(), signal: undefined });
    expect(missing.steps.map((s) => [s.stepId, s.ok])).toEqual([
      ['a', false],
      ['b', false],
    ]);
    expect(missing.steps[1]?.check?.reason).toBe(
      'could not be checked: it uses {{v}}, which step a exports, but step a has not exported it',
    );
  });
});

describe('when: (item 4)', () => {
  const conditional = (cond: string) => `name: conditional
description: a step that runs only when asked
steps:
  - id: maybe
    title: maybe
    why: x
    when: { run: [cond, "${cond}"] }
    do: [[create, m]]
    verify: [{ run: [has, m] }]
    undo: [[delete, m]]
  - { id: after, title: after, why: x, do: [[create, n]], verify: [{ run: [has, n] }], undo: [[delete, n]] }
`;

  it('a condition that does not hold skips the step: nothing of it runs, step-end says why, rollback leaves it', async () => {
    write(conditional('no'));
    const result = await run();
    expect(result.status).toBe('succeeded');
    expect(result.steps.map((s) => [s.stepId, s.outcome, s.skipReason])).toEqual([
      ['maybe', 'skipped', 'its "when:" (cond no) does not hold: expected exit status 0, got 1'],
      ['after', 'changed', undefined],
    ]);
    expect(host.calls.filter((c) => c.endsWith(' m'))).toEqual([]);
    expect(journal(result.runId).find((l) => l.type === 'step-end' && l.step === 'maybe')).toMatchObject({
      outcome: 'skipped',
      reason: 'its "when:" (cond no) does not hold: expected exit status 0, got 1',
    });
    const rolled = await rollbackRun({ store: storeAt(stateDir), runId: undefined, executor: host });
    expect(rolled.kind === 'rollback' && rolled.planned).toEqual(['after']);
  });

  it('a condition that holds lets the step run as usual', async () => {
    write(conditional('yes'));
    const result = await run();
    expect(result.steps.map((s) => [s.stepId, s.outcome])).toEqual([
      ['maybe', 'changed'],
      ['after', 'changed'],
    ]);
  });
});

describe('the final pass (item 8)', () => {
  const undoing = (bFirst: boolean) => `name: undoing
description: c takes a away
steps:
  - { id: a, title: make a, why: x, do: [[create, a]], verify: [{ run: [has, a] }], undo: [[delete, a]] }
  - { id: b, title: make b, why: x, do: [[create, b]], verify: [{ run: [has, b] }], undo: [[delete, b]] }
  - { id: c, title: make c, why: x, do: [[create, c], [delete, a]], verify: [{ run: [has, c] }], undo: [[delete, c]] }
  - { id: d, title: check b, why: x, verify: [{ run: [has, ${bFirst ? 'b' : 'c'}] }] }
`;

  it('names every step that changed the host after the one that no longer holds', async () => {
    write(undoing(true));
    const result = await run();
    expect(result.status).toBe('failed');
    expect(result.steps.map((s) => s.outcome)).toEqual(['changed', 'changed', 'changed', 'ok']);
    expect(result.failure).toMatchObject({
      stepId: 'a',
      undoneBy: [
        { stepId: 'b', title: 'make b' },
        { stepId: 'c', title: 'make c' },
      ],
    });
    const lines = journal(result.runId);
    expect(lines.find((l) => l.type === 'final-pass-start')).toMatchObject({ steps: ['a', 'b'] });
    expect(lines.find((l) => l.type === 'final-pass-end')).toMatchObject({
      status: 'failed',
      step: 'a',
      undoneBy: ['b', 'c'],
    });
    expect(lines.at(-1)).toMatchObject({
      type: 'run-end',
      status: 'failed',
      failedStep: 'a',
      message:
        'no longer holds at the end of the run: expected exit status 0, got 1; one of the steps that changed the host after it undid it: b, c',
    });
  });

  it('a step found in place is no suspect: only one step changed the host after a, and it is named alone', async () => {
    write(undoing(true));
    host.things.set('b', 'there');
    const result = await run();
    expect(result.failure?.undoneBy).toEqual([{ stepId: 'c', title: 'make c' }]);
  });

  it('verifies nothing again after a run that changed nothing, or after the last step that changed something', async () => {
    write(undoing(false).replace(', [delete, a]', ''));
    const result = await run();
    expect(result.status).toBe('succeeded');
    // d comes after c, the last to change the host: it is not verified again; a and b are.
    expect(journal(result.runId).find((l) => l.type === 'final-pass-start')).toMatchObject({ steps: ['a', 'b'] });
    const again = await run();
    expect(again.status).toBe('succeeded');
    expect(journal(again.runId).some((l) => l.type === 'final-pass-start')).toBe(false);
  });
});
