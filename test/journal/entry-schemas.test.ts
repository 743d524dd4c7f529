import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rollbackRun } from '../../src/engine/rollback.js';
import { runRunbook } from '../../src/engine/run.js';
import { journalFormat, readableFormats, type JournalEntry } from '../../src/journal/entries.js';
import { entryFieldNames, entryFieldValues, entryKinds, entryProblem } from '../../src/journal/entry-schemas.js';
import { journalFile } from '../../src/journal/paths.js';
import { readJournal } from '../../src/journal/reader.js';
import { FileJournal } from '../../src/journal/writer.js';
import { prepareRunbookFile } from '../../src/runbook/prepare.js';
import { runStartEntry } from '../helpers/entries.js';
import { FakeHost } from '../helpers/fake-executor.js';
import { fakePlan, fakeStep } from '../helpers/plans.js';
import { storeAt } from '../helpers/store.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { thrown } from '../helpers/thrown.js';

/**
 * Journals are read by validation, not by cast (issue 27, item 6): every entry kind has a
 * schema (src/journal/entry-schemas.ts), a line that does not match is damage named with its
 * line, kind and field, and the fields of each kind are tied to the journal format.
 */

let dir: string;
beforeEach(() => {
  dir = tempDir('runbook-schemas-');
});
afterEach(() => removeDir(dir));

const user = { uid: 0, sudoUser: 'alice' };
const plan = fakePlan(
  fakeStep('link', {
    requires: [
      {
        argv: ['has', 'parent'],
        timeoutMs: 1000,
        expect: { exit: 0, not: { output_contains: 'down' } },
        preflight: true,
        cause: 'no parent',
        fix: 'make it',
      },
    ],
    capture: [{ name: 'mtu', argv: ['cat', 'mtu'], timeoutMs: 1000, regex: '(\\d+)', trim: true }],
    do: [
      {
        argv: ['create', 'link'],
        timeoutMs: 1000,
        stdin: 'x',
        okExit: [0, 2],
        condition: { argv: ['has', 'link'], timeoutMs: 1000, expect: { exit: 'nonzero' }, runWhenHolds: false },
      },
    ],
    verify: [
      {
        argv: ['read', '/proc/x'],
        read: '/proc/x',
        timeoutMs: 1000,
        expect: { json: { a: [1] } },
        retries: 2,
        delayMs: 10,
      },
    ],
    diagnose: [
      { argv: ['probe'], timeoutMs: 1000, when: { exit: 1 }, cause: 'c', fix: 'f', independent: true, retries: 1 },
    ],
    onlyIfCreatedBy: ['parent'],
    noUndo: 'a flush',
  }),
);

/** One entry of every kind, every optional field set. */
const everyKind: JournalEntry[] = [
  runStartEntry({
    plan,
    params: { a: 'b' },
    stopAfter: 'link',
    runbookIncludes: [{ name: 'i', file: '/i', source: 's' }],
    replaces: [
      {
        runId: 'r0',
        undo: ['link'],
        takeOver: [{ step: 'parent', captures: { mtu: '1500' }, cutOff: false }],
        exports: { parent: { mac: 'aa:bb' } },
      },
    ],
  }),
  { type: 'attempt-start', kind: 'resume', pid: 42, user, note: 'a note' },
  { type: 'step-start', step: 'link', index: 0, title: 'make link' },
  {
    type: 'command-start',
    step: 'link',
    phase: 'verify',
    index: 0,
    argv: ['read', '/proc/x'],
    timeoutMs: 1000,
    stdin: 'x',
    attempt: 2,
    read: '/proc/x',
  },
  {
    type: 'command-end',
    step: 'link',
    phase: 'do',
    index: 0,
    exitCode: 2,
    signal: 'SIGTERM',
    timedOut: true,
    startError: 'ENOENT',
    durationMs: 1.5,
    stdout: 'o',
    stderr: 'e',
    accepted: true,
  },
  { type: 'command-skipped', step: 'link', phase: 'do', index: 0, reason: 'unless holds' },
  { type: 'check', step: 'link', phase: 'undo-check', index: 0, ok: false, reason: 'r', evidence: 'ev', attempt: 1 },
  { type: 'capture', step: 'link', name: 'mtu', value: '1500' },
  { type: 'export', step: 'link', name: 'mac', value: 'aa:bb' },
  { type: 'finding', step: 'link', index: 0, cause: 'c', evidence: 'ev', fix: 'f', argv: ['probe'] },
  { type: 'step-end', step: 'link', outcome: 'skipped', durationMs: 3, doFailed: true, reason: 'when: no' },
  { type: 'run-end', status: 'failed', failedStep: 'link', message: 'm' },
  { type: 'rollback-start', steps: ['link'], reason: 'automatic revert', replacedBy: 'r1' },
  { type: 'step-undone', step: 'link', outcome: 'not-undoable', durationMs: 0, reason: 'a flush' },
  { type: 'rollback-end', status: 'rolled-back', message: 'm', reason: 'automatic revert', replacedBy: 'r1' },
  { type: 'confirm-pending', deadline: '2026-12-01T00:00:00.000Z', withinMs: 60000, joined: ['r0'] },
  { type: 'watchdog-started', pid: 43, startTime: '123' },
  { type: 'timer-armed', unit: 'runbook-revert-r', deadline: '2026-12-01T00:00:00.000Z' },
  {
    type: 'deadline-moved',
    deadline: '2026-12-01T00:01:00.000Z',
    previous: '2026-12-01T00:00:00.000Z',
    why: 'joined',
    by: 'r2',
    user,
  },
  { type: 'confirmed', user, pid: 44, deadline: '2026-12-01T00:01:00.000Z', together: ['r0'] },
  { type: 'final-pass-start', steps: ['link'] },
  { type: 'final-pass-end', status: 'failed', step: 'link', undoneBy: ['later'] },
  { type: 'replaced', by: 'r1', handedOver: ['parent'] },
  { type: 'replace-end', status: 'failed', message: 'm' },
];

/** Writes entries as the writer does; returns the journal's lines as text. */
function written(entries: readonly JournalEntry[]): string[] {
  const file = journalFile(dir, 'r');
  const journal = new FileJournal(file);
  for (const entry of entries) journal.append(entry);
  journal.close();
  return readFileSync(file, 'utf8').split('\n').slice(0, -1);
}

/** The error reading back the journal whose line `n` (1-based) was changed by `edit`. */
function damageAt(n: number, edit: (line: Record<string, unknown>) => void) {
  const lines = written(everyKind);
  const line = JSON.parse(lines[n - 1]!) as Record<string, unknown>;
  edit(line);
  lines[n - 1] = JSON.stringify(line);
  writeFileSync(journalFile(dir, 'r'), lines.map((l) => `${l}\n`).join(''));
  return thrown(() => readJournal(journalFile(dir, 'r')));
}

describe('entries as the writer writes them', () => {
  it('every kind, with every optional field left out, reads back', () => {
    const optional = entryFieldNames();
    const bare = everyKind.map((entry) => {
      const copy: Record<string, unknown> = { ...entry };
      for (const name of optional[entry.type]!) if (name.endsWith('?')) delete copy[name.slice(0, -1)];
      return copy as unknown as JournalEntry;
    });
    expect(bare.map((e) => e.type)).toEqual(entryKinds);
    written(bare);
    expect(readJournal(journalFile(dir, 'r')).lines.map((l) => l.type)).toEqual(entryKinds);
  });

  it('every kind, with every optional field set, reads back as written', () => {
    written(everyKind);
    const read = readJournal(journalFile(dir, 'r'));
    expect(read.lines.map((l) => l.type)).toEqual(entryKinds);
    expect(read.lines[0]).toMatchObject({ type: 'run-start', journalFormat, plan });
  });

  it('a journal of a run and its rollback, written by the engine, reads back whole', async () => {
    writeFileSync(
      `${dir}/demo.yaml`,
      [
        'name: demo',
        'description: captures, conditions, retries, undo none',
        'steps:',
        '  - id: a',
        '    title: make a',
        '    why: test',
        '    capture: { old: [cat, mtu] }',
        '    do: [{ run: [create, a], unless: { run: [has, a] } }, { run: [create, z], if: { run: [has, nothing] } }]',
        '    verify: [{ run: [has, a], retries: 1 }]',
        '    undo: [[delete, a]]',
        '  - id: b',
        '    title: flush b',
        '    why: test',
        '    do: [[create, b]]',
        '    verify: [{ run: [has, b] }]',
        '    undo: { none: "a one-off" }',
        '',
      ].join('\n'),
    );
    const { runbook, params } = prepareRunbookFile(`${dir}/demo.yaml`, []);
    const host = new FakeHost();
    const store = storeAt(`${dir}/state`);
    const run = await runRunbook({ runbook, params, store, executor: host });
    expect(run.status).toBe('succeeded');
    const rollback = await rollbackRun({ store, runId: run.runId, executor: host });
    expect(rollback).toMatchObject({ status: 'rolled-back' });
    const kinds = new Set(readJournal(journalFile(`${dir}/state`, run.runId)).lines.map((l) => l.type));
    expect([...kinds]).toEqual(
      expect.arrayContaining([
        'run-start',
        'capture',
        'command-skipped',
        'step-end',
        'run-end',
        'step-undone',
        'rollback-end',
      ]),
    );
  });
});

describe('a line that is not what this version writes is damage, named', () => {
  it('a field of the wrong type: line, kind and field (exit 1, journal-damaged, nothing run)', () => {
    const error = damageAt(5, (line) => (line.exitCode = 'two'));
    expect(error.code).toBe('journal-damaged');
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(
      `${journalFile(dir, 'r')}: line 5 is damaged: its command-end entry .exitCode is "two", not an integer`,
    );
  });

  it('a required field missing', () => {
    expect(damageAt(11, (line) => delete line.outcome).message).toContain(
      'line 11 is damaged: its step-end entry has no outcome',
    );
  });

  it('a field this format does not have', () => {
    expect(damageAt(8, (line) => (line.secret = 1)).message).toContain(
      'line 8 is damaged: its capture entry has a field "secret" it should not have',
    );
  });

  it('a value outside its kind (an outcome no version writes)', () => {
    expect(damageAt(14, (line) => (line.outcome = 'half-done')).message).toContain(
      'line 14 is damaged: its step-undone entry .outcome is "half-done", not one of undone, undo-failed, not-undoable',
    );
  });

  it('a kind of entry this version does not know', () => {
    expect(damageAt(3, (line) => (line.type = 'step-begin')).message).toContain(
      'line 3 is damaged: "step-begin" is not a kind of entry of journal format 2',
    );
  });

  it('deep in the recorded plan: what a resume or rollback would run', () => {
    const error = damageAt(1, (line) => {
      const step = (line.plan as { steps: Array<{ undo: Array<{ argv: unknown }> }> }).steps[0]!;
      step.undo[0]!.argv = 'delete link';
    });
    expect(error.message).toContain(
      'line 1 is damaged: its run-start entry .plan.steps[0].undo[0].argv is "delete link", not a list',
    );
  });

  it('a format-1 journal (0.1.0) holding what only format 2 has was not written by a version of format 1', () => {
    const lines = written(everyKind).map((raw) => JSON.parse(raw) as Record<string, unknown>);
    lines[0]!.journalFormat = 1;
    const as1 = (picked: Array<Record<string, unknown>>) => {
      writeFileSync(journalFile(dir, 'r'), picked.map((l) => `${JSON.stringify(l)}\n`).join(''));
      return () => readJournal(journalFile(dir, 'r'));
    };
    // Issue 23's runs it replaces are format 2's: a format-1 run-start with them is damaged.
    expect(thrown(as1([lines[0]!])).message).toContain(
      'line 1 is damaged: its run-start entry has a field "replaces" it should not have',
    );
    delete lines[0]!.replaces;
    const kind = (type: string) => lines.find((l) => l.type === type)!;
    expect(thrown(as1([lines[0]!, kind('export')])).message).toContain(
      'line 2 is damaged: "export" is not a kind of entry of journal format 1',
    );
    expect(thrown(as1([lines[0]!, kind('step-end')])).message).toContain(
      'line 2 is damaged: its step-end entry has a field "reason" it should not have',
    );
    const { reason: _reason, ...stepEnd } = kind('step-end');
    expect(as1([lines[0]!, kind('capture'), stepEnd])().lines).toHaveLength(3);
    // Continued by this version (a resume or rollback of a run 0.1.0 began): format 2 from its
    // attempt-start on, which says so.
    const attempt = kind('attempt-start');
    expect(attempt.journalFormat).toBe(2);
    expect(as1([lines[0]!, stepEnd, attempt, kind('export'), kind('step-end')])().lines).toHaveLength(5);
    const { journalFormat: _format, ...oldAttempt } = attempt;
    expect(thrown(as1([lines[0]!, oldAttempt, kind('export')])).message).toContain(
      'line 3 is damaged: "export" is not a kind of entry of journal format 1',
    );
    const error = thrown(as1([lines[0]!, { ...attempt, journalFormat: 3 }, kind('export')]));
    expect(error.code).toBe('journal-version');
    expect(error.message).toContain('is in journal format 3 from line 2 on (written by a later runbook version)');
  });

  it('the envelope too: a prev that is not a sha256', () => {
    expect(damageAt(2, (line) => (line.prev = 'abc')).message).toContain(
      'line 2 is damaged: its attempt-start entry .prev is "abc", not a sha256',
    );
  });

  it('entryProblem on its own: undefined for an entry as written', () => {
    for (const raw of written(everyKind)) expect(entryProblem(JSON.parse(raw))).toBeUndefined();
  });
});

describe('the journal format', () => {
  it('this version writes format 2 and reads 1 (0.1.0) and 2', () => {
    expect(journalFormat).toBe(2);
    expect(readableFormats).toEqual([1, 2]);
  });

  // The fields of every kind, as format 2 has them. When this test fails, an entry's fields
  // changed: bump journalFormat (src/journal/entries.ts), say what the new format adds, and
  // record the new list here under it; a journal of the old format must still read (or be
  // refused by name), and test/golden/ replays what 0.1.0 wrote.
  it('each kind has exactly the fields format 2 records (bump the format when they change)', () => {
    expect({ format: journalFormat, fields: entryFieldNames() }).toEqual({
      format: 2,
      fields: {
        'run-start': [
          'runId',
          'runbook',
          'runbookFile',
          'runbookHash',
          'runbookSource',
          'runbookIncludes',
          'params',
          'plan',
          'user',
          'host',
          'engineVersion',
          'stopAfter?',
          'replaces?',
          'journalFormat?',
        ],
        'attempt-start': ['kind', 'pid', 'user', 'note?', 'journalFormat?'],
        'step-start': ['step', 'index', 'title'],
        'command-start': ['step', 'phase', 'index', 'argv', 'timeoutMs', 'stdin?', 'attempt?', 'read?'],
        'command-end': [
          'step',
          'phase',
          'index',
          'exitCode?',
          'signal?',
          'timedOut',
          'startError?',
          'durationMs',
          'stdout',
          'stderr',
          'accepted?',
        ],
        'command-skipped': ['step', 'phase', 'index', 'reason'],
        check: ['step', 'phase', 'index', 'ok', 'reason', 'evidence?', 'attempt?'],
        capture: ['step', 'name', 'value'],
        export: ['step', 'name', 'value'],
        finding: ['step', 'index', 'cause', 'evidence?', 'fix?', 'argv'],
        'step-end': ['step', 'outcome', 'durationMs', 'doFailed', 'reason?'],
        'run-end': ['status', 'failedStep?', 'message?'],
        'rollback-start': ['steps', 'reason?', 'replacedBy?'],
        'step-undone': ['step', 'outcome', 'durationMs', 'reason?'],
        'rollback-end': ['status', 'message?', 'reason?', 'replacedBy?'],
        'confirm-pending': ['deadline', 'withinMs', 'joined?'],
        'watchdog-started': ['pid', 'startTime'],
        'timer-armed': ['unit', 'deadline'],
        'deadline-moved': ['deadline', 'previous', 'why', 'by?', 'user'],
        confirmed: ['user', 'pid', 'deadline', 'together?'],
        'final-pass-start': ['steps'],
        'final-pass-end': ['status', 'step?', 'undoneBy?'],
        replaced: ['by', 'handedOver'],
        'replace-end': ['status', 'message?'],
      },
    });
  });

  // The same for the values a field takes from a fixed set: a new phase or outcome in a journal
  // is one an older reader of the same format would call damage.
  it('each field of a fixed set of values has exactly those format 2 records (bump the format when they change)', () => {
    const phases = [
      'check',
      'requires',
      'capture',
      'do',
      'verify',
      'diagnose',
      'undo',
      'undo-check',
      'undo-guard',
      'do-condition',
      'undo-condition',
      'when',
      'export',
      'final-verify',
    ];
    expect({ format: journalFormat, values: entryFieldValues() }).toEqual({
      format: 2,
      values: {
        'attempt-start.kind': ['resume', 'rollback', 'replace'],
        'command-start.phase': phases,
        'command-end.phase': phases,
        'command-skipped.phase': phases,
        'check.phase': phases,
        'step-end.outcome': ['ok', 'changed', 'failed', 'skipped'],
        'run-end.status': ['succeeded', 'failed', 'interrupted', 'stopped'],
        'step-undone.outcome': ['undone', 'undo-failed', 'not-undoable'],
        'rollback-end.status': ['rolled-back', 'failed', 'interrupted'],
        'deadline-moved.why': ['extend', 'joined'],
        'final-pass-end.status': ['held', 'failed'],
        'replace-end.status': ['replaced', 'failed', 'interrupted'],
      },
    });
  });
});
