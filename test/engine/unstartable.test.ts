import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rollbackRun } from '../../src/engine/rollback.js';
import { runRunbook } from '../../src/engine/run.js';
import { executeAndRecord } from '../../src/engine/execute-steps.js';
import { runJournaled } from '../../src/engine/journaled-command.js';
import type { JournalLine } from '../../src/journal/entries.js';
import { journalFile } from '../../src/journal/paths.js';
import { readJournal } from '../../src/journal/reader.js';
import { readRunIndex } from '../../src/journal/run-index.js';
import { MemoryJournal } from '../../src/journal/sink.js';
import { whyNotStartable } from '../../src/exec/startable.js';
import { loadRunbook } from '../../src/runbook/load.js';
import { resolveParams } from '../../src/runbook/params.js';
import { FakeExecutor } from '../helpers/fake-executor.js';
import { storeAt } from '../helpers/store.js';
import { tempDirsRemovedAfterAll } from '../helpers/temp-dir.js';

/**
 * Issue 22, item 8: nothing is ever journaled as started that cannot be run, and no run is left
 * stuck on an internal error. A NUL in an argument (from a value the host gave) used to throw
 * inside the executor: the run ended `interrupted` with "internal error", and every resume did
 * the same. Now such a command is journaled as not run, with why, and fails like a program
 * that is not installed: the step fails, with its diagnosis, and rollback works.
 */

const tempDir = tempDirsRemovedAfterAll('runbook-unstartable-');
const ofType = <T extends JournalLine['type']>(lines: readonly JournalLine[], type: T) =>
  lines.filter((l): l is Extract<JournalLine, { type: T }> => l.type === type);

async function run(source: string, executor: FakeExecutor) {
  const file = path.join(tempDir(), 'demo.yaml');
  writeFileSync(file, source);
  const runbook = loadRunbook(file);
  const stateDir = tempDir();
  const result = await runRunbook({
    runbook,
    params: resolveParams(runbook.spec, {}, file),
    store: storeAt(stateDir),
    executor,
  });
  return { result, stateDir, lines: readJournal(journalFile(stateDir, result.runId)).lines };
}

describe('a command that cannot start', () => {
  it.each([
    [['ip', 'link', 'add', 'a\0b'], 'argument 3 holds a NUL character (at position 2)'],
    [['', 'x'], 'it has no program name'],
    [[], 'it has no program name'],
    [['echo', 'x'.repeat(131_072)], 'argument 1 is 131,072 bytes long; Linux takes at most 131,071'],
    [['echo', ...Array(20).fill('y'.repeat(100_000))], 'its arguments are 2,000,025 bytes together'],
  ])('%j is refused before it starts: %s', (argv, why) => {
    expect(whyNotStartable(argv)).toContain(why);
  });

  it('is journaled as not run (no command-start), and its result says why, without calling the executor', async () => {
    const executor = new FakeExecutor();
    const journal = new MemoryJournal();
    const result = await runJournaled({ executor, journal, signal: undefined }, 's', 'do', 0, {
      argv: ['ip', 'link', 'add', 'a\0b'],
      timeoutMs: 1000,
    });
    expect(executor.calls).toEqual([]);
    expect(result).toMatchObject({ exitCode: undefined, startError: expect.stringContaining('NUL character') });
    expect(journal.entries.map((l) => l.type)).toEqual(['command-skipped']);
  });

  it('a captured value holding a NUL: the capture keeps nothing, do does not run, the run fails (not interrupted)', async () => {
    const source = `name: demo
description: x
steps:
  - id: set
    title: x
    why: x
    capture:
      old: [get]
    do: [[set, "{{old}}"]]
    verify: [{ run: [is-set] }]
    undo: [[unset, "{{old}}"]]
`;
    const executor = new FakeExecutor().on('get', { stdout: 'a\0b\n' }).on('is-set', { exitCode: 1 });
    const { result, stateDir, lines } = await run(source, executor);
    expect(result.status).toBe('failed');
    expect(executor.calls).not.toContain(expect.stringMatching(/^set /));
    expect(ofType(lines, 'check').find((l) => l.phase === 'capture')?.reason).toBe(
      'nothing captured for old: the value holds a NUL character, which no command can be given',
    );
    expect(ofType(lines, 'command-start').some((l) => l.argv.some((a) => a.includes('\0')))).toBe(false);
    expect(readRunIndex(stateDir, result.runId)?.status).toBe('failed');
    // Nothing changed, so nothing to undo: a clean answer, not an internal error.
    expect(await rollbackRun({ store: storeAt(stateDir), runId: result.runId, executor })).toMatchObject({
      status: 'rolled-back',
      planned: [],
    });
    expect(executor.calls.filter((c) => c.startsWith('set') || c.startsWith('unset'))).toEqual([]);
  });

  it('a captured value that cannot fill {{old + 1}}: do is journaled as not run and the step fails', async () => {
    const source = `name: demo
description: x
steps:
  - id: bump
    title: x
    why: x
    capture:
      old: [get]
    do: [[set, "{{old + 1}}"]]
    verify: [{ run: [is-set] }]
    undo: [[set, "{{old}}"]]
`;
    const executor = new FakeExecutor().on('get', { stdout: 'eleven\n' }).on('is-set', { exitCode: 1 });
    const { result, lines } = await run(source, executor);
    expect(result.status).toBe('failed');
    expect(ofType(lines, 'command-skipped')[0]?.reason).toMatch(
      /^its runtime values cannot fill it: .*"eleven" is neither a number nor an IPv4 address/,
    );
    expect(ofType(lines, 'run-end')[0]?.status).toBe('failed');
  });

  it('an executor that throws for a reason of its own still records why the run ended', async () => {
    const journal = new MemoryJournal() as unknown as Parameters<typeof executeAndRecord>[0];
    const executor = { run: () => Promise.reject(new Error('boom')) };
    const plan = {
      runbook: 'x',
      description: 'x',
      params: {},
      steps: [
        {
          id: 's',
          title: 's',
          why: 'w',
          requires: [],
          capture: [],
          do: [{ argv: ['make'], timeoutMs: 1000 }],
          verify: [{ argv: ['has'], timeoutMs: 1000, expect: { exit: 0 as const } }],
          undo: [],
          diagnose: [],
        },
      ],
    };
    await expect(executeAndRecord(journal, { plan, executor, signal: undefined })).rejects.toThrow('boom');
    const lines = (journal as unknown as MemoryJournal).entries;
    expect(lines.at(-1)).toMatchObject({ type: 'run-end', message: 'internal error: boom' });
  });
});
