import { closeSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { RunbookError } from '../errors.js';
import type { RunStartEntry } from '../journal/entries.js';
import { journalFile, runsDir } from '../journal/paths.js';
import { readJournal, runStartOf } from '../journal/reader.js';
import { readRunIndex, type RunIndex } from '../journal/run-index.js';
import { mkdirPrivate, openForAppend, writeAll } from '../journal/safe-fs.js';
import type { Attachment } from './attachment.js';

/**
 * Where the plugin keeps what it did, and how it finds it again: the one module that knows the
 * layout of the CNI state (docs/cni.md). Each network has a runbook state dir of its own,
 * `<root>/<network name>`, holding the runs of its network runbook and of every container, so
 * that `runbook --state-dir <root>/<network> runs` and `journal` show them like any run. Beside
 * the runs, `cni-calls.ndjson` records every call (verb, container, runs, outcome).
 */

/** The root of the plugin's state when the configuration does not name one (`stateDir`). */
export const defaultCniStateRoot = '/var/lib/runbook/cni';

/** The state dir of one network. */
export function networkStateDir(root: string | undefined, network: string): string {
  return path.join(root ?? defaultCniStateRoot, network);
}

/** A recorded run the plugin made, with what its journal's first entry says. */
export interface PluginRun {
  index: RunIndex;
  start: RunStartEntry;
}

/** Statuses of runs with nothing left to undo. */
const undone: ReadonlySet<RunIndex['status']> = new Set(['rolled-back', 'reverted']);

/**
 * The runs of `stateDir` whose id ends with `-<tag>` and that are not undone, oldest first,
 * found by their file names (the ids carry the tag: attachment.ts). A damaged run is an error:
 * what it changed cannot be known, so nothing is done rather than a guess.
 */
export function runsTagged(stateDir: string, tag: string): PluginRun[] {
  if (!existsSync(runsDir(stateDir))) return [];
  const ids = new Set<string>();
  const suffix = `-${tag}`;
  for (const file of readdirSync(runsDir(stateDir))) {
    const match = /^(.+)\.(json|ndjson)$/.exec(file);
    if (match !== null && (match[1] as string).endsWith(suffix)) ids.add(match[1] as string);
  }
  const runs: PluginRun[] = [];
  for (const id of [...ids].sort()) {
    const index = readRunIndex(stateDir, id);
    if (index === undefined || undone.has(index.status)) continue;
    if (index.status === 'damaged')
      throw new RunbookError('journal-damaged', `run ${id} is damaged: ${index.damage}; refusing to act on it`);
    // A run killed before its first entry was whole recorded nothing, and changed nothing.
    const journal = readJournal(journalFile(stateDir, id));
    if (journal.lines.length === 0) continue;
    runs.push({ index, start: runStartOf(journal) });
  }
  return runs;
}

/** The runs of one attachment (its container id and interface, as recorded), oldest first. */
export function attachmentRuns(stateDir: string, tag: string, attachment: Attachment): PluginRun[] {
  return runsTagged(stateDir, tag).filter(
    (run) => run.start.params.container_id === attachment.containerId && run.start.params.ifname === attachment.ifname,
  );
}

/** One line of `cni-calls.ndjson`. */
export interface CallRecord {
  time: string;
  command: string;
  containerId: string;
  ifname: string;
  netns: string;
  /** The runs the call made or acted on. */
  runs: string[];
  /** "ok", or the error code the runtime got; "started" for an ADD about to act (one killed shows no end). */
  outcome: 'started' | 'ok' | number;
  message?: string | undefined;
  durationMs: number;
}

/** The calls log of a network's state dir. */
export function callsLogFile(stateDir: string): string {
  return path.join(stateDir, 'cni-calls.ndjson');
}

/**
 * Appends one call to the log: one write with O_APPEND (never interleaved with another call's),
 * created 0600, never through a link. Not fsync'd: the runs' own journals are, and they are what
 * DEL and CHECK act on; this log is for people.
 */
export function recordCall(stateDir: string, record: CallRecord): void {
  mkdirPrivate(stateDir);
  const file = callsLogFile(stateDir);
  const fd = openForAppend(file);
  try {
    writeAll(fd, `${JSON.stringify(record)}\n`, file);
  } finally {
    closeSync(fd);
  }
}
