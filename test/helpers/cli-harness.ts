import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { JournalLine } from '../../src/journal/entries.js';
import { genesisHash, hashLine } from '../../src/journal/hash-chain.js';
import { indexFile, journalFile, runsDir } from '../../src/journal/paths.js';
import { readJournal, verifyJournal } from '../../src/journal/reader.js';
import { listRunIndexes, readRunIndex, type RunIndex } from '../../src/journal/run-index.js';
import { readRunHistory } from '../../src/engine/run-history.js';
import { SandboxHost } from './sandbox-host.js';
import { removeDir, tempDir } from './temp-dir.js';

/**
 * Helpers for the resume / rollback / crash tests: a sandbox host with a temp state dir, and
 * in-process reads of what a state dir holds (journals, indexes). The CLI itself runs through
 * SandboxHost.runbook / startRunbook (so a test can signal it or let a kill point kill it).
 *
 * Every CLI run here happens inside a sandbox host: nothing touches this machine's network.
 */

export type Snapshot = Record<string, unknown>;

/** A fresh sandbox host and state dir for `fn`; both are disposed of whatever happens. */
export async function inSandbox<T>(
  fn: (host: SandboxHost, stateDir: string) => Promise<T>,
  options: { stateDir?: string } = {},
): Promise<T> {
  const stateDir = options.stateDir ?? tempDir();
  const host = await SandboxHost.create();
  try {
    return await fn(host, stateDir);
  } finally {
    host.dispose();
    if (options.stateDir === undefined) removeDir(stateDir);
  }
}

/** The ids of every journal in a state dir (indexed or not), oldest first. */
export function journalIds(stateDir: string): string[] {
  if (!existsSync(runsDir(stateDir))) return [];
  return readdirSync(runsDir(stateDir))
    .filter((f) => f.endsWith('.ndjson'))
    .map((f) => f.slice(0, -'.ndjson'.length))
    .sort();
}

/** The only run of a state dir (fails the test when there is not exactly one journal). */
export function onlyRunId(stateDir: string): string {
  const ids = journalIds(stateDir);
  if (ids.length !== 1) throw new Error(`expected exactly one journal in ${stateDir}, found ${ids.length}`);
  return ids[0] as string;
}

export function journalLines(stateDir: string, runId: string): JournalLine[] {
  return readJournal(journalFile(stateDir, runId)).lines;
}

export function runIndex(stateDir: string, runId: string): RunIndex | undefined {
  return readRunIndex(stateDir, runId);
}

export function runs(stateDir: string): RunIndex[] {
  return listRunIndexes(stateDir);
}

/** The first problem `journal --verify` would report (hash chain, then index), or undefined. */
export function journalProblem(stateDir: string, runId: string): string | undefined {
  const problem = verifyJournal(readJournal(journalFile(stateDir, runId)), readRunIndex(stateDir, runId));
  return problem === undefined ? undefined : `entry ${problem.line}: ${problem.reason}`;
}

/** Steps a run's journal shows changed and no rollback has undone yet (what `rollback` would undo). */
export function changesLeft(stateDir: string, runId: string): string[] {
  const history = readRunHistory(journalLines(stateDir, runId));
  const undone = new Set(history.undoneSteps);
  return history.changedSteps.filter((s) => !undone.has(s));
}

/** Polls until `predicate` holds (or fails after timeoutMs). */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The lines of a journal file as they are on disk (for tampering tests). */
export function readJournalText(stateDir: string, runId: string): string[] {
  const text = readFileSync(journalFile(stateDir, runId), 'utf8');
  return text.split('\n').slice(0, -1);
}

export function writeJournalText(stateDir: string, runId: string, lines: readonly string[]): void {
  writeFileSync(journalFile(stateDir, runId), lines.map((l) => `${l}\n`).join(''));
}

/** Every file under a dir with its mode, owner and content: to show that nothing changed. */
export function fileTree(dir: string): Record<string, string> {
  const tree: Record<string, string> = {};
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const file = path.join(at, name);
      const stats = lstatSync(file);
      const key = path.relative(dir, file);
      if (stats.isDirectory()) {
        tree[key] = `dir ${stats.mode.toString(8)} ${stats.uid}`;
        walk(file);
      } else {
        tree[key] =
          `${stats.mode.toString(8)} ${stats.uid} ${stats.isSymbolicLink() ? '-> link' : readFileSync(file, 'utf8')}`;
      }
    }
  };
  walk(dir);
  return tree;
}

/**
 * The attacker's forgery: edit a journal's entries, then recompute the whole hash chain and the
 * index, so that `journal --verify` finds nothing wrong.
 */
export function forgeJournal(
  stateDir: string,
  id: string,
  edit: (entries: Array<Record<string, unknown>>) => void,
): void {
  const entries = readJournalText(stateDir, id).map((l) => JSON.parse(l) as Record<string, unknown>);
  edit(entries);
  let prev = genesisHash;
  const lines = entries.map((entry, i) => {
    const line = JSON.stringify({ ...entry, seq: i + 1, prev });
    prev = hashLine(line);
    return line;
  });
  writeJournalText(stateDir, id, lines);
  const index = JSON.parse(readFileSync(indexFile(stateDir, id), 'utf8')) as Record<string, unknown>;
  writeFileSync(indexFile(stateDir, id), JSON.stringify({ ...index, lastSeq: lines.length, lastHash: prev }));
}

/** Parses `journal <id> --json` output (one raw entry per line). */
export function parseNdjson(text: string): JournalLine[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as JournalLine);
}

/** The reference figures of an uninterrupted run of single-container in a fresh sandbox. */
export interface Reference {
  /** The sandbox before the run. */
  before: Snapshot;
  /** The tutorial's end state: after the uninterrupted run. */
  end: Snapshot;
  /** Journal entries and commands of the run. */
  runEntries: number;
  runCommands: number;
  /** Journal entries and commands the rollback of that run added. */
  rollbackEntries: number;
  rollbackCommands: number;
  /** A short label of each entry (index n-1 for entry n) and command (k-1 for command k), for test names. */
  runEntryLabels: string[];
  runCommandLabels: string[];
  rollbackEntryLabels: string[];
}

/** "command-start veth-pair/do", "step-end namespace", "run-end"… */
export function entryLabel(line: JournalLine): string {
  const l = line as unknown as { type: string; step?: string; phase?: string };
  return `${l.type}${l.step === undefined ? '' : ` ${l.step}`}${l.phase === undefined ? '' : `/${l.phase}`}`;
}

function commandLabels(lines: readonly JournalLine[]): string[] {
  return lines.flatMap((l) => (l.type === 'command-start' ? [`${l.step}/${l.phase}: ${l.argv.join(' ')}`] : []));
}

/**
 * Runs single-container uninterrupted in a fresh sandbox host with a fresh state dir, counts
 * the entries and commands its journal holds (from `journal latest --json`), then rolls it back
 * and counts again: the figures every crash point is derived from.
 */
export async function measureReference(runbook = 'single-container'): Promise<Reference> {
  return inSandbox(async (host, stateDir) => {
    const sd = ['--state-dir', stateDir];
    const before = await host.snapshot();
    const run = await host.runbook([...sd, 'run', runbook]);
    if (run.exitCode !== 0) throw new Error(`reference run failed (exit ${run.exitCode}): ${run.stderr}${run.stdout}`);
    const end = await host.snapshot();
    const rollback = await host.runbook([...sd, 'rollback']);
    if (rollback.exitCode !== 0)
      throw new Error(`reference rollback failed (exit ${rollback.exitCode}): ${rollback.stderr}`);
    // One journal holds both: the run's entries, then the rollback's, which begin with the
    // rollback's attempt-start entry.
    const all = parseNdjson((await host.runbook([...sd, 'journal', 'latest', '--json'])).stdout);
    const rollbackAt = all.findIndex((l) => l.type === 'attempt-start' && l.kind === 'rollback');
    if (rollbackAt < 0) throw new Error('reference journal has no rollback attempt');
    const afterRun = all.slice(0, rollbackAt);
    const afterRollback = all;
    const commands = (lines: JournalLine[]) => lines.filter((l) => l.type === 'command-start').length;
    const rolledBack = await host.snapshot();
    if (JSON.stringify(rolledBack) !== JSON.stringify(before))
      throw new Error('reference rollback did not restore the sandbox');
    return {
      before,
      end,
      runEntries: afterRun.length,
      runCommands: commands(afterRun),
      rollbackEntries: afterRollback.length - afterRun.length,
      rollbackCommands: commands(afterRollback) - commands(afterRun),
      runEntryLabels: afterRun.map(entryLabel),
      runCommandLabels: commandLabels(afterRun),
      rollbackEntryLabels: afterRollback.slice(afterRun.length).map(entryLabel),
    };
  });
}

/** The reference figures of single-container replaced with new values (issue 23), in a fresh sandbox. */
export interface ReplaceReference {
  /** The sandbox before the first run. */
  before: Snapshot;
  /** After the first run (the defaults): what the replacing run starts from. */
  applied: Snapshot;
  /** After the replacing run: the end state every crashed replace must converge to. */
  replaced: Snapshot;
  /** The journal entries the replacing process appends, in the order it appends them (both journals). */
  entries: number;
  entryLabels: string[];
}

/** The values the replace sweep re-applies single-container with. */
export const replaceValues = ['--set', 'container_cidr=172.16.0.3/24', '--set', 'gateway=172.16.0.3'];

/**
 * Runs single-container with its defaults, then again with `replaceValues` and --replace, and
 * counts the entries the replacing process appended: its own run-start, then every entry of the
 * earlier run's undo and hand-over (in that run's journal), then the rest of its own.
 */
export async function measureReplaceReference(): Promise<ReplaceReference> {
  return inSandbox(async (host, stateDir) => {
    const sd = ['--state-dir', stateDir];
    const before = await host.snapshot();
    const first = await host.runbook([...sd, 'run', 'single-container']);
    if (first.exitCode !== 0) throw new Error(`reference run failed: ${first.stderr}${first.stdout}`);
    const applied = await host.snapshot();
    const [old] = journalIds(stateDir);
    const oldBefore = journalLines(stateDir, old as string).length;
    const second = await host.runbook([...sd, 'run', 'single-container', ...replaceValues, '--replace']);
    if (second.exitCode !== 0) throw new Error(`reference replace failed: ${second.stderr}${second.stdout}`);
    const replaced = await host.snapshot();
    const [, mine] = journalIds(stateDir);
    const own = journalLines(stateDir, mine as string);
    const theirs = journalLines(stateDir, old as string).slice(oldBefore);
    const appended = [own[0] as JournalLine, ...theirs, ...own.slice(1)];
    return { before, applied, replaced, entries: appended.length, entryLabels: appended.map(entryLabel) };
  });
}

/** 1..n */
export function upTo(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** The part-th of `of` contiguous slices of 1..n (part counted from 1). */
export function slice(n: number, part: number, of: number): number[] {
  const size = Math.ceil(n / of);
  return upTo(n).slice((part - 1) * size, part * size);
}
