import { isOneShotRun, isThisHost } from '../host/binding.js';
import type { RunIndex, RunStore } from '../store/run-store.js';
import { hasChangesLeft } from './changes-left.js';
import { withStateLock } from './recorded-run.js';

/**
 * `runbook prune` (issue 24): every no-op re-apply is a run record of its own, so a fleet
 * applied every hour piles them up. Prune removes the records nobody can still use — never a
 * run someone could still roll back, confirm, resume or audit, unless asked:
 *
 * - kept always: a run with changes in effect (rollback undoes them from its journal), one
 *   awaiting confirmation, one in progress, and a run of another host (this host cannot tell
 *   what is left of it);
 * - kept unless asked (`--damaged`): a damaged run, which is for someone to look into
 *   (`runbook journal ID --verify`);
 * - kept: the `keep` newest runs of each runbook on this host, whatever they are (what
 *   happened last, for `runs` and `journal latest`), and, with `olderThanMs`, every run that
 *   ended more recently than that;
 * - removed: the rest — runs rolled back or reverted, runs that changed nothing, runs whose
 *   changes were all undone — index, journal and watchdog log.
 */

export type KeepReason =
  'changes-in-effect' | 'awaiting-confirmation' | 'in-progress' | 'another-host' | 'damaged' | 'newest' | 'recent';

export interface PruneOptions {
  store: RunStore;
  /** How many of the newest runs of each runbook on this host to keep, whatever they are. */
  keep: number;
  /** Only runs of this runbook (the others are neither counted nor removed). */
  runbook?: string | undefined;
  /** Keep every run that ended less than this long ago. */
  olderThanMs?: number | undefined;
  /** Remove damaged runs too (asked for: they are kept for someone to look into otherwise). */
  damaged?: boolean | undefined;
  /** Say what would be removed, remove nothing (needs no lock: the store may be read-only). */
  dryRun?: boolean | undefined;
  onNote?: ((note: string) => void) | undefined;
  now?: (() => number) | undefined;
}

export interface PrunedRun {
  runId: string;
  runbook: string;
  status: string;
  started: string;
}

export interface PruneResult {
  dryRun: boolean;
  /** Removed (or, with dryRun, to be removed), oldest first. */
  pruned: PrunedRun[];
  /** Runs kept, by why: what prune never takes, and the newest of each runbook. */
  kept: Record<KeepReason, string[]>;
}

export async function pruneRuns(options: PruneOptions): Promise<PruneResult> {
  const { store } = options;
  if (options.dryRun) return decide(options);
  return withStateLock(store, 'prune', options.onNote, async () => {
    const result = decide(options);
    for (const run of result.pruned) store.removeRun(run.runId);
    return result;
  });
}

/** Which runs go and which stay, and why; pure but for reading the runs. */
function decide(options: PruneOptions): PruneResult {
  const { store } = options;
  const now = options.now?.() ?? Date.now();
  const kept: Record<KeepReason, string[]> = {
    'changes-in-effect': [],
    'awaiting-confirmation': [],
    'in-progress': [],
    'another-host': [],
    damaged: [],
    newest: [],
    recent: [],
  };
  const runs = store.listRuns().filter((r) => options.runbook === undefined || r.runbook === options.runbook);
  // The newest `keep` of each runbook on this host (a one-shot sandbox's runs count as this host's:
  // their host is gone, and so is anything to undo).
  const newest = new Set<string>();
  const byRunbook = new Map<string, RunIndex[]>();
  for (const run of runs) {
    if (run.status === 'damaged' || !(isThisHost(run.host) || isOneShotRun(run.host))) continue;
    byRunbook.set(run.runbook, [...(byRunbook.get(run.runbook) ?? []), run]);
  }
  for (const list of byRunbook.values())
    for (const run of list.slice(Math.max(0, list.length - options.keep))) newest.add(run.id);

  const pruned: PrunedRun[] = [];
  for (const run of runs) {
    const reason = keepReason(store, run, newest, options, now);
    if (reason !== undefined) kept[reason].push(run.id);
    else pruned.push({ runId: run.id, runbook: run.runbook, status: run.status, started: run.started });
  }
  return { dryRun: options.dryRun === true, pruned, kept };
}

function keepReason(
  store: RunStore,
  run: RunIndex,
  newest: ReadonlySet<string>,
  options: PruneOptions,
  now: number,
): KeepReason | undefined {
  if (run.status === 'damaged') return options.damaged ? undefined : 'damaged';
  if (run.status === 'running') return 'in-progress';
  if (run.status === 'awaiting-confirmation') return 'awaiting-confirmation';
  const oneShot = isOneShotRun(run.host);
  if (!oneShot && !isThisHost(run.host)) return 'another-host';
  if (!oneShot) {
    try {
      if (hasChangesLeft(store, run)) return 'changes-in-effect';
    } catch {
      // Its journal cannot be read as a run: damaged, for someone to look into.
      return options.damaged ? undefined : 'damaged';
    }
  }
  if (newest.has(run.id)) return 'newest';
  const ended = Date.parse(run.finished ?? run.started);
  if (options.olderThanMs !== undefined && !(now - ended >= options.olderThanMs)) return 'recent';
  return undefined;
}
