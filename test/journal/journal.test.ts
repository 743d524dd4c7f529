import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RunbookError } from '../../src/errors.js';
import type { JournalEntry, RunStartEntry } from '../../src/journal/entries.js';
import { genesisHash, hashLine } from '../../src/journal/hash-chain.js';
import { journalFile } from '../../src/journal/paths.js';
import { chainEnd, readJournal, verifyJournal } from '../../src/journal/reader.js';
import { readRunIndex, type RunIndex } from '../../src/journal/run-index.js';
import { RunJournal } from '../../src/journal/run-journal.js';
import { FileJournal } from '../../src/journal/writer.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('runbook-journal-');
});
afterEach(() => {
  removeDir(dir);
});

const sha256Hex = /^[0-9a-f]{64}$/;

/** Six entries, like a short run. */
const entries: JournalEntry[] = [
  { type: 'step-start', step: 'namespace', index: 0, title: 'Create the namespace container1' },
  {
    type: 'command-start',
    step: 'namespace',
    phase: 'check',
    index: 0,
    argv: ['ip', '-j', 'netns', 'list'],
    timeoutMs: 5000,
  },
  {
    type: 'command-end',
    step: 'namespace',
    phase: 'check',
    index: 0,
    exitCode: 0,
    signal: undefined,
    timedOut: false,
    startError: undefined,
    durationMs: 12,
    stdout: '[{"name":"container1"}]\n',
    stderr: '',
  },
  {
    type: 'check',
    step: 'namespace',
    phase: 'check',
    index: 0,
    ok: true,
    reason: 'as expected',
    evidence: '[{"name":"container1"}]',
  },
  { type: 'step-end', step: 'namespace', outcome: 'ok', durationMs: 20, doFailed: false },
  { type: 'run-end', status: 'succeeded', failedStep: undefined, message: undefined },
];

/** Writes the entries with a FileJournal; returns the file and the index a run would keep. */
function writeJournal(list: readonly JournalEntry[] = entries): {
  file: string;
  journal: FileJournal;
  index: RunIndex;
} {
  const file = path.join(dir, 'runs', 'run.ndjson');
  const journal = new FileJournal(file);
  for (const entry of list) journal.append(entry);
  journal.close();
  const index: RunIndex = {
    id: 'run',
    runbook: 'single-container',
    status: 'succeeded',
    activity: 'run',
    started: new Date().toISOString(),
    finished: new Date().toISOString(),
    pid: process.pid,
    host: { hostname: 'h', netns: 'net:[1]', sandbox: undefined },
    lastSeq: journal.lastSeq,
    lastHash: journal.lastHash,
  };
  return { file, journal, index };
}

const linesOf = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1);
const writeLines = (file: string, lines: readonly string[]) => writeFileSync(file, lines.map((l) => `${l}\n`).join(''));

describe('FileJournal', () => {
  it('writes one JSON line per entry, each with seq and the hash of the previous line', () => {
    const { file, journal } = writeJournal();
    const text = readFileSync(file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = linesOf(file);
    expect(lines).toHaveLength(entries.length);
    let prev = genesisHash;
    lines.forEach((raw, i) => {
      const line = JSON.parse(raw) as Record<string, unknown>;
      expect(line.seq).toBe(i + 1);
      expect(line.prev).toBe(prev);
      expect(line.prev).toMatch(sha256Hex);
      expect(line.type).toBe(entries[i]!.type);
      expect(typeof line.time).toBe('string');
      expect(typeof line.msg).toBe('string');
      prev = hashLine(raw);
    });
    expect(journal.lastSeq).toBe(entries.length);
    expect(journal.lastHash).toBe(prev);
  });

  it('keeps the entry fields as given', () => {
    const { file } = writeJournal();
    const second = JSON.parse(linesOf(file)[1]!);
    expect(second).toMatchObject({
      type: 'command-start',
      step: 'namespace',
      phase: 'check',
      argv: ['ip', '-j', 'netns', 'list'],
      timeoutMs: 5000,
    });
    const third = JSON.parse(linesOf(file)[2]!);
    expect(third).toMatchObject({ exitCode: 0, stdout: '[{"name":"container1"}]\n', timedOut: false });
  });

  it('continues an existing chain when given its end', () => {
    const { file, journal } = writeJournal(entries.slice(0, 3));
    const more = new FileJournal(file, { lastSeq: journal.lastSeq, lastHash: journal.lastHash });
    for (const entry of entries.slice(3)) more.append(entry);
    more.close();
    expect(verifyJournal(readJournal(file), undefined)).toBeUndefined();
    expect(readJournal(file).lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('hashLine is the sha256 hex of the text', () => {
    expect(hashLine('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('chains lines that hold characters beyond ASCII (the writer hashes the bytes it writes)', () => {
    const text = 'Crée — ceth1 → container1 … 😀';
    expect(hashLine(Buffer.from(text))).toBe(hashLine(text));
    const { file, journal } = writeJournal([
      { type: 'step-start', step: 'namespace', index: 0, title: text },
      ...entries.slice(1),
    ]);
    expect(JSON.parse(linesOf(file)[0]!).title).toBe(text);
    expect(verifyJournal(readJournal(file), undefined)).toBeUndefined();
    expect(journal.lastHash).toBe(hashLine(linesOf(file).at(-1)!));
  });
});

describe('readJournal', () => {
  it('reads every line, with its raw text', () => {
    const { file } = writeJournal();
    const read = readJournal(file);
    expect(read.lines.map((l) => l.type)).toEqual(entries.map((e) => e.type));
    expect(read.raw).toEqual(linesOf(file));
    expect(read.tornTail).toBeUndefined();
    expect(chainEnd(read)).toEqual({ lastSeq: 6, lastHash: hashLine(read.raw[5]!) });
  });

  it('tolerates a torn last line (no final newline) and reports it', () => {
    const { file, index } = writeJournal();
    appendFileSync(file, '{"level":30,"time":"2026-01-01T00:00:00.000Z","seq":7,"prev":"ab');
    const read = readJournal(file);
    expect(read.lines).toHaveLength(entries.length);
    expect(read.tornTail).toBe('{"level":30,"time":"2026-01-01T00:00:00.000Z","seq":7,"prev":"ab');
    // What is left is intact.
    expect(verifyJournal(read, index)).toBeUndefined();
  });

  it('a damaged line that is not the last is an error naming the line (exit 1)', () => {
    const { file } = writeJournal();
    const lines = linesOf(file);
    lines[2] = lines[2]!.slice(0, 30);
    writeLines(file, lines);
    let error: unknown;
    try {
      readJournal(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RunbookError);
    expect((error as RunbookError).code).toBe('journal-damaged');
    expect((error as RunbookError).exitCode).toBe(1);
    expect((error as RunbookError).message).toContain(`${file}: line 3 is damaged`);
  });

  it('a missing journal is an error naming the file', () => {
    expect(() => readJournal(path.join(dir, 'nope.ndjson'))).toThrow(`no journal at ${path.join(dir, 'nope.ndjson')}`);
  });
});

describe('verifyJournal', () => {
  it('an untouched journal is intact, with and without its index', () => {
    const { file, index } = writeJournal();
    expect(verifyJournal(readJournal(file), undefined)).toBeUndefined();
    expect(verifyJournal(readJournal(file), index)).toBeUndefined();
  });

  it('detects an altered line (the next line no longer chains to it)', () => {
    const { file } = writeJournal();
    const lines = linesOf(file);
    lines[2] = lines[2]!.replace('"exitCode":0', '"exitCode":1');
    expect(lines[2]).toContain('"exitCode":1');
    writeLines(file, lines);
    expect(verifyJournal(readJournal(file), undefined)).toEqual({
      line: 4,
      reason: 'hash of the previous entry does not match (an entry before it was altered, removed or reordered)',
    });
  });

  it('detects an altered last line only through the index', () => {
    const { file, index } = writeJournal();
    const lines = linesOf(file);
    lines[5] = lines[5]!.replace('"succeeded"', '"failed"');
    writeLines(file, lines);
    expect(verifyJournal(readJournal(file), undefined)).toBeUndefined();
    expect(verifyJournal(readJournal(file), index)).toEqual({
      line: 6,
      reason: "this entry's hash differs from the one recorded in the run's index (it was altered)",
    });
  });

  it('detects a removed line', () => {
    const { file } = writeJournal();
    const lines = linesOf(file);
    lines.splice(2, 1);
    writeLines(file, lines);
    expect(verifyJournal(readJournal(file), undefined)).toEqual({
      line: 3,
      reason: 'sequence number 4 where 3 was expected (entries removed or reordered)',
    });
  });

  it('detects a removed line even when the later seq numbers were rewritten', () => {
    const { file } = writeJournal();
    const lines = linesOf(file);
    lines.splice(2, 1);
    const renumbered = lines.map((l, i) => l.replace(/"seq":\d+/, `"seq":${i + 1}`));
    writeLines(file, renumbered);
    expect(verifyJournal(readJournal(file), undefined)?.line).toBe(3);
  });

  it('detects reordered lines', () => {
    const { file } = writeJournal();
    const lines = linesOf(file);
    [lines[1], lines[2]] = [lines[2]!, lines[1]!];
    writeLines(file, lines);
    expect(verifyJournal(readJournal(file), undefined)).toEqual({
      line: 2,
      reason: 'sequence number 3 where 2 was expected (entries removed or reordered)',
    });
  });

  it('detects reordered lines whose seq numbers were swapped back', () => {
    const { file } = writeJournal();
    const lines = linesOf(file);
    const a = lines[1]!.replace('"seq":2', '"seq":3');
    const b = lines[2]!.replace('"seq":3', '"seq":2');
    lines[1] = b;
    lines[2] = a;
    writeLines(file, lines);
    expect(verifyJournal(readJournal(file), undefined)).toMatchObject({
      line: 2,
      reason: expect.stringMatching(/hash of the previous entry does not match/),
    });
  });

  it('detects lines removed from the end, with the index', () => {
    const { file, index } = writeJournal();
    writeLines(file, linesOf(file).slice(0, 4));
    // The chain of what is left is fine: only the index can tell.
    expect(verifyJournal(readJournal(file), undefined)).toBeUndefined();
    expect(verifyJournal(readJournal(file), index)).toEqual({
      line: 5,
      reason: "the run's index records 6 entries but the journal has 4 (entries removed from the end)",
    });
  });

  it('an empty journal with an index that expects entries is not intact', () => {
    const { file, index } = writeJournal();
    writeFileSync(file, '');
    expect(verifyJournal(readJournal(file), index)?.line).toBe(1);
  });
});

describe('RunJournal: the journal and the run index together', () => {
  const start = (runId: string): RunStartEntry => ({
    type: 'run-start',
    runId,
    runbook: 'single-container',
    runbookFile: '/x/single-container.yaml',
    runbookHash: 'a'.repeat(64),
    runbookSource: 'name: single-container\n',
    runbookIncludes: [],
    params: { container: 'container1' },
    plan: { runbook: 'single-container', description: 'test', params: { container: 'container1' }, steps: [] },
    user: { uid: 0, sudoUser: undefined },
    host: { hostname: 'h', netns: 'net:[1]', sandbox: undefined },
    engineVersion: '0.1.0',
    stopAfter: undefined,
  });

  it('writes run-start first and keeps the index at checkpoints in step with the journal', () => {
    const journal = RunJournal.create(dir, start('20260101T000000Z-0001'));
    let index = readRunIndex(dir, '20260101T000000Z-0001');
    expect(index).toMatchObject({
      id: '20260101T000000Z-0001',
      runbook: 'single-container',
      status: 'running',
      pid: process.pid,
      lastSeq: 1,
    });
    for (const entry of entries) journal.append(entry);
    journal.close();
    index = readRunIndex(dir, '20260101T000000Z-0001')!;
    expect(index.status).toBe('succeeded');
    expect(index.finished).toEqual(expect.any(String));
    const read = readJournal(journalFile(dir, '20260101T000000Z-0001'));
    expect(read.lines[0]).toMatchObject({ type: 'run-start', seq: 1, prev: genesisHash, runbookHash: 'a'.repeat(64) });
    expect(index.lastSeq).toBe(read.lines.length);
    expect(index.lastHash).toBe(hashLine(read.raw.at(-1)!));
    expect(verifyJournal(read, index)).toBeUndefined();
  });

  it('reopen cuts a torn last line and continues the chain from the last whole entry', () => {
    const runId = '20260101T000000Z-0002';
    const journal = RunJournal.create(dir, start(runId));
    for (const entry of entries.slice(0, 5)) journal.append(entry);
    journal.close();
    const file = journalFile(dir, runId);
    appendFileSync(file, '{"level":30,"seq":7,"pr');
    const read = readJournal(file);
    expect(read.tornTail).toBeDefined();
    const again = RunJournal.reopen(dir, runId, read);
    again.append({
      type: 'attempt-start',
      kind: 'resume',
      pid: process.pid,
      user: { uid: 0, sudoUser: undefined },
      note: undefined,
    });
    again.append({ type: 'run-end', status: 'succeeded', failedStep: undefined, message: undefined });
    again.close();
    const after = readJournal(file);
    expect(after.tornTail).toBeUndefined();
    expect(after.lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(verifyJournal(after, readRunIndex(dir, runId))).toBeUndefined();
  });

  it('a run whose process is gone while "running" reads as interrupted', () => {
    const runId = '20260101T000000Z-0003';
    RunJournal.create(dir, start(runId)).close();
    const file = path.join(dir, 'runs', `${runId}.json`);
    const index = JSON.parse(readFileSync(file, 'utf8')) as RunIndex;
    writeFileSync(file, JSON.stringify({ ...index, pid: 2 ** 22 + 1 }));
    expect(readRunIndex(dir, runId)?.status).toBe('interrupted');
  });
});
