import path from 'node:path';
import { RunbookError } from '../errors.js';
import type { RunStartEntry } from '../journal/entries.js';
import { runStartOf } from '../journal/reader.js';
import type { RunIndex, RunStore } from '../store/run-store.js';
import type { Attachment } from './attachment.js';

/**
 * Where the plugin keeps what it did, and how it finds it again: the one module that knows the
 * layout of the CNI state (docs/cni.md). Each network has a runbook state dir of its own,
 * `<root>/<network name>`, holding the runs of its network runbook and of every container, so
 * that `runbook --state-dir <root>/<network> runs` and `journal` show them like any run. Beside
 * the runs, `cni-calls.ndjson` records every call (verb, container, runs, outcome). The plugin
 * opens it through the door, as every command does (src/store/open-run-store.ts).
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
 * The runs of the store whose id ends with `-<tag>` and that are not undone, oldest first,
 * found by their ids alone (the ids carry the tag: attachment.ts), so that a call reads only
 * its container's runs. A damaged run is an error: what it changed cannot be known, so nothing
 * is done rather than a guess.
 */
export function runsTagged(store: RunStore, tag: string): PluginRun[] {
  const runs: PluginRun[] = [];
  for (const id of store.listRunIds().filter((runId) => runId.endsWith(`-${tag}`))) {
    const index = store.readRun(id);
    if (index === undefined || undone.has(index.status)) continue;
    if (index.status === 'damaged')
      throw new RunbookError('journal-damaged', `run ${id} is damaged: ${index.damage}; refusing to act on it`);
    // A run killed before its first entry was whole recorded nothing, and changed nothing.
    const journal = store.readJournal(id);
    if (journal.lines.length === 0) continue;
    runs.push({ index, start: runStartOf(journal) });
  }
  return runs;
}

/** The runs of one attachment (its container id and interface, as recorded), oldest first. */
export function attachmentRuns(store: RunStore, tag: string, attachment: Attachment): PluginRun[] {
  return runsTagged(store, tag).filter(
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

/** Appends one call to the network's log (RunStore.appendCniCall: not fsync'd, for people). */
export function recordCall(store: RunStore, record: CallRecord): void {
  store.appendCniCall(record);
}
