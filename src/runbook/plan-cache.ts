import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readEnv } from '../env.js';
import type { RunStore } from '../store/run-store.js';
import { engineVersion } from '../version.js';
import type { LoadedRunbook, ResolvedRunbook } from './load.js';
import { readIncludeFromDisk, runbookTextsHash, type IncludeReader, type RunbookSource } from './locate.js';
import type { ParamValues } from './params.js';
import type { Plan } from '../plan/plan.js';
import { shareIdenticalProbes } from './shared-probes.js';
import type { PreparedRunbook } from './prepare.js';

/*
 * The validated plan, cached by everything that determines it (issue 16): a run whose runbook,
 * includes, --set values and engine are what they were reads the plan back as JSON, and never
 * loads the YAML parser or the schema (a megabyte of code to compile).
 *
 * What determines a plan: the runbook file (its resolved path and text), the file and text of
 * every include (which file an include name means depends on the directory and the search path,
 * so each lookup is replayed on a hit, not trusted), the --set flags, whether it runs in a
 * sandbox host (sandbox defaults), the engine's version and build, and this file's format. The entry's name
 * is the sha256 of the first group; the includes are checked by re-reading and re-hashing them.
 * No mtime is believed.
 *
 * Trust: a plan is what root runs. The entries are read and written through the run store
 * (src/store/), whose door refuses a state dir with a planted or loosened entry (exit 2, naming
 * it, as for a planted journal) before `run` or `check` looks for a plan; the store checks the
 * file it opens again (a trusted user's, writable by no one else, not a link), and here its
 * digest must match its text. An entry that fails is never used: the runbook is parsed instead.
 */

/** Changes whenever the entry's shape or the meaning of its key changes. */
export const planCacheFormat = 1;

/**
 * What is kept: the most recently used entries, at most this many and this many bytes in all
 * (the newest is kept whatever its size); older ones are removed after each write. A
 * single-container plan is about 70 KB, multi-container with count=100 about 4.7 MB.
 */
export const planCacheLimits = { entries: 32, bytes: 32 * 1024 * 1024 };

/** A plan larger than this is parsed each time rather than cached (a runaway loop, say). */
const maxEntryBytes = 16 * 1024 * 1024;

/**
 * Free space the state dir's file system must keep beyond an entry: the cache never takes the
 * room a journal needs (a run stopped by a full disk must still be able to write its entries).
 */
const minFreeBytes = 64 * 1024 * 1024;

const entryName = /^[0-9a-f]{64}\.json$/;

/** A temporary a crashed writer left (safe-fs's replaceFile names them `<entry>.tmp-<pid>`). */
const staleTemp = /^[0-9a-f]{64}\.json\.tmp-\d+$/;
const staleTempAgeMs = 10 * 60 * 1000;

/**
 * Which build of the engine this is, beyond its version: a checkout is rebuilt without a new
 * version, and a plan rendered by the old renderer must not outlive it. Every build rewrites
 * every file of dist/ and the bundle (tsc and esbuild write all their outputs), so the size and
 * time of this module's own file change with each build; an installed package's files keep
 * theirs, and its version changes instead.
 */
export const engineBuild: string = buildStamp(import.meta.url);

function buildStamp(moduleUrl: string): string {
  try {
    const stats = statSync(fileURLToPath(moduleUrl));
    return `${stats.size}:${stats.mtimeMs}`;
  } catch {
    return 'unknown'; // not a file (a data: URL, say): the version alone
  }
}

/** What determines a plan besides its includes (those are recorded in the entry). */
export interface PlanInputs {
  /** The runbook file as resolveRunbookFile gives it. */
  file: string;
  /** Its text. */
  source: string;
  setFlags: readonly string[];
  inSandbox: boolean;
}

/** One call of the include reader during a full parse, replayed (and re-hashed) on a hit. */
export interface IncludeRead {
  name: string;
  from: string;
  file: string;
  sha256: string;
}

interface PlanCacheEntry {
  format: number;
  engineVersion: string;
  key: string;
  file: string;
  reads: IncludeRead[];
  /** `LoadedRunbook.includes` without the texts (they come from the replayed reads). */
  includes: Array<{ name: string; file: string }>;
  spec: ResolvedRunbook;
  params: ParamValues;
  plan: Plan;
}

/** Whether the cache is on (it is unless RUNBOOK_PLAN_CACHE=off). */
export function planCacheEnabled(): boolean {
  return readEnv('planCache') !== 'off';
}

/** The entry's name: sha256 of the inputs, the engine's version and build, and the format. */
export function planCacheKey(inputs: PlanInputs, engine = { version: engineVersion, build: engineBuild }): string {
  return sha256(
    JSON.stringify({
      format: planCacheFormat,
      engineVersion: engine.version,
      engineBuild: engine.build,
      file: inputs.file,
      source: sha256(inputs.source),
      set: inputs.setFlags,
      inSandbox: inputs.inSandbox,
    }),
  );
}

/** An include reader that reads from disk as usual and records each read for the entry. */
export function recordingIncludeReader(reads: IncludeRead[], readInclude: IncludeReader): IncludeReader {
  return (name, fromFile) => {
    const read = readInclude(name, fromFile);
    reads.push({ name, from: fromFile, file: read.file, sha256: sha256(read.source) });
    return read;
  };
}

/**
 * The prepared runbook a full parse of these inputs gave before, or undefined (no entry, an
 * entry not to be trusted or not intact, an include that now means another file or text).
 */
export function lookupPlan(
  store: RunStore,
  inputs: PlanInputs,
  readInclude: IncludeReader = readIncludeFromDisk,
): PreparedRunbook | undefined {
  const key = planCacheKey(inputs);
  const text = store.readPlan(key, maxEntryBytes + 65);
  const entry = text === undefined ? undefined : parseEntry(text, key, inputs.file);
  if (entry === undefined) return undefined;
  const sources = new Map<string, string>();
  try {
    for (const read of entry.reads) {
      const now = readInclude(read.name, read.from);
      if (now.file !== read.file || sha256(now.source) !== read.sha256) return undefined;
      sources.set(now.file, now.source);
    }
  } catch {
    return undefined; // an include gone or refused: the full parse says so, in its words
  }
  const includes: RunbookSource[] = [];
  for (const { name, file } of entry.includes) {
    const source = sources.get(file);
    if (source === undefined) return undefined;
    includes.push({ name, file, source });
  }
  const runbook: LoadedRunbook = {
    spec: entry.spec,
    file: inputs.file,
    source: inputs.source,
    includes,
    hash: runbookTextsHash(inputs.source, includes),
  };
  return { runbook, params: entry.params, plan: shareIdenticalProbes(entry.plan) };
}

/**
 * Stores what a full parse gave. Call it only once the state dir is trusted for writing. Never
 * throws: a cache that cannot be written costs time, not correctness. Atomic (a temporary
 * renamed over the entry); not fsynced: an entry a crash left torn fails its digest and is
 * parsed again.
 */
export function storePlan(
  store: RunStore,
  prepared: PreparedRunbook,
  options: { setFlags: readonly string[]; inSandbox: boolean; reads: readonly IncludeRead[] },
): void {
  try {
    const { runbook } = prepared;
    const key = planCacheKey({
      file: runbook.file,
      source: runbook.source,
      setFlags: options.setFlags,
      inSandbox: options.inSandbox,
    });
    const entry: PlanCacheEntry = {
      format: planCacheFormat,
      engineVersion,
      key,
      file: runbook.file,
      reads: [...options.reads],
      includes: runbook.includes.map(({ name, file }) => ({ name, file })),
      spec: runbook.spec,
      params: prepared.params,
      plan: prepared.plan,
    };
    const body = JSON.stringify(entry);
    if (Buffer.byteLength(body) > maxEntryBytes) return;
    if (store.writePlan(key, `${sha256(body)}\n${body}`, minFreeBytes)) prunePlans(store);
  } catch {
    // not cached: the next run parses again
  }
}

/** The entry, if its digest matches its text and it is one for this key and file. */
function parseEntry(text: string, key: string, file: string): PlanCacheEntry | undefined {
  const newline = text.indexOf('\n');
  if (newline !== 64) return undefined;
  const body = text.slice(newline + 1);
  if (sha256(body) !== text.slice(0, newline)) return undefined;
  let entry: PlanCacheEntry;
  try {
    entry = JSON.parse(body) as PlanCacheEntry;
  } catch {
    return undefined;
  }
  const intact =
    typeof entry === 'object' &&
    entry !== null &&
    entry.format === planCacheFormat &&
    entry.engineVersion === engineVersion &&
    entry.key === key &&
    entry.file === file &&
    Array.isArray(entry.reads) &&
    Array.isArray(entry.includes) &&
    typeof entry.spec === 'object' &&
    typeof entry.params === 'object' &&
    typeof entry.plan === 'object' &&
    Array.isArray(entry.plan?.steps);
  return intact ? entry : undefined;
}

/** Keeps the most recently used entries within `limits`; removes temporaries a crash left. */
export function prunePlans(store: RunStore, limits = planCacheLimits): void {
  const entries: Array<{ name: string; mtimeMs: number; size: number }> = [];
  const now = Date.now();
  for (const plan of store.listPlans()) {
    if (entryName.test(plan.name)) entries.push(plan);
    else if (staleTemp.test(plan.name) && now - plan.mtimeMs > staleTempAgeMs) store.removePlan(plan.name);
  }
  entries.sort((a, b) => b.mtimeMs - a.mtimeMs);
  let bytes = 0;
  entries.forEach(({ name, size }, kept) => {
    bytes += size;
    if (kept > 0 && (kept >= limits.entries || bytes > limits.bytes)) store.removePlan(name);
  });
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
