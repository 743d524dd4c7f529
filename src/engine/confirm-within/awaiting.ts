import { invalidInput, type RunbookError } from '../../errors.js';
import { isThisHost } from '../../host/binding.js';
import { advice, runbookCommand } from '../../suggestion.js';
import type { JournalLine } from '../../journal/entries.js';
import type { RunIndex, RunStore } from '../../store/run-store.js';
import { openRecordedRun } from '../recorded-run.js';
import { readRunHistory, stepsInEffect } from '../run-history.js';
import { confirmationOf, isExpired, type Confirmation } from './confirmation.js';
import { isGuardAlive } from './guard.js';

/**
 * The runs awaiting confirmation on this host, and how `confirm`, `confirm --extend` and a
 * re-apply pick theirs (issue 24): by runbook, never by recency. Every run of a runbook that
 * awaits here is one pending change — a re-apply joins the runs before it, and they are kept,
 * moved or reverted together — so confirming the latest run (which may have changed nothing)
 * also keeps the earlier one whose changes are in effect.
 */

/** A run awaiting confirmation, as its journal says. */
export interface AwaitingRun {
  index: RunIndex;
  confirmation: Extract<Confirmation, { state: 'awaiting' }>;
  /** How many of its changed steps are in effect (changed and not undone). */
  changesInEffect: number;
}

/**
 * This host's runs that await confirmation, oldest first: nominated by their markers (one
 * readdir when there are none), decided by their journals (intact ones only: a damaged
 * journal is for `runbook journal --verify`, not for keeping a change).
 */
export function awaitingHere(store: RunStore, runbook?: string): AwaitingRun[] {
  const awaiting: AwaitingRun[] = [];
  for (const marker of store.pendingConfirmations()) {
    if (!isThisHost(marker.host)) continue;
    const index = store.readRun(marker.runId);
    if (index === undefined || index.status === 'damaged') continue;
    if (runbook !== undefined && index.runbook !== runbook) continue;
    let lines;
    try {
      lines = store.readIntactJournal(index).lines;
    } catch {
      continue;
    }
    const confirmation = confirmationOf(lines);
    if (confirmation.state === 'awaiting') awaiting.push(awaitingRun(index, lines, confirmation));
  }
  return awaiting.sort((a, b) => a.index.id.localeCompare(b.index.id));
}

function awaitingRun(
  index: RunIndex,
  lines: readonly JournalLine[],
  confirmation: Extract<Confirmation, { state: 'awaiting' }>,
): AwaitingRun {
  const history = readRunHistory(lines);
  const changesInEffect = stepsInEffect(history).length;
  return { index, confirmation, changesInEffect };
}

/** What `confirm` or `confirm --extend` acts on. */
export type Target =
  /** The runs awaiting confirmation that it acts on (at least one), oldest first. */
  | { kind: 'awaiting'; runs: AwaitingRun[] }
  /**
   * The run asked for no longer awaits (or, with none asked for, this host's latest provisional
   * run was reverted or rolled back: a late confirm learns it was too late).
   */
  | { kind: 'settled'; index: RunIndex; confirmation: Confirmation }
  /**
   * None asked for, and nothing awaits: nothing to do, whether no run was ever made with
   * --confirm-within here or the latest was confirmed (the same answer either way).
   */
  | { kind: 'nothing'; message: string };

/**
 * With a run id: that run's runbook's awaiting runs here (the run itself among them, or it is
 * settled). With `runbook`: its awaiting runs here. With neither: every awaiting run here.
 * When nothing awaits, the run asked for, or this host's latest provisional run, as it stands
 * (so that confirming twice is a no-op, and a late confirm learns the run was reverted).
 */
export function pickTarget(
  store: RunStore,
  asked: { runId?: string | undefined; runbook?: string | undefined },
): Target {
  if (asked.runId !== undefined) {
    const index = store.findRun(asked.runId);
    const run = openRecordedRun(store, index); // an intact journal, and this host's run
    const confirmation = confirmationOf(run.journal.lines);
    if (confirmation.state !== 'awaiting') return { kind: 'settled', index, confirmation };
    const runs = awaitingHere(store, index.runbook);
    // Its marker lost (it only nominates): the journal says it awaits, so it does.
    if (!runs.some((r) => r.index.id === index.id)) runs.push(awaitingRun(index, run.journal.lines, confirmation));
    return { kind: 'awaiting', runs: runs.sort((a, b) => a.index.id.localeCompare(b.index.id)) };
  }
  const runs = awaitingHere(store, asked.runbook);
  if (runs.length > 0) return { kind: 'awaiting', runs };
  const provisional = store
    .listRuns()
    .filter((r) => r.confirmBy !== undefined && isThisHost(r.host))
    .filter((r) => asked.runbook === undefined || r.runbook === asked.runbook);
  const latest = provisional.at(-1);
  const confirmation = latest === undefined ? undefined : confirmationOf(store.readIntactJournal(latest).lines);
  if (latest !== undefined && (confirmation?.state === 'reverted' || confirmation?.state === 'rolled-back'))
    return { kind: 'settled', index: latest, confirmation };
  const of = asked.runbook === undefined ? '' : ` of ${asked.runbook}`;
  const last =
    latest !== undefined && confirmation?.state === 'confirmed'
      ? ` (the latest, run ${latest.id}, was confirmed at ${confirmation.at})`
      : '';
  return {
    kind: 'nothing',
    message: `no run${of} awaits confirmation in ${store.dir} on this host${last}: nothing to do`,
  };
}

/** The refusal of `confirm` and `confirm --extend` for a run that never awaited confirmation (exit 2). */
export function neverAwaited(runId: string): RunbookError {
  return invalidInput(
    `run ${runId} was not left awaiting confirmation (it was made without --confirm-within, or did not succeed); nothing was changed`,
    advice`a run awaits confirmation after: ${runbookCommand('run', 'NAME', '--confirm-within', '5m')}`,
  );
}

/** The refusal of `confirm` and `confirm --extend` for a run that awaits on another host (exit 2). */
export function awaitsElsewhere(runId: string): RunbookError {
  return invalidInput(`run ${runId} awaits confirmation on another host; nothing was changed`);
}

/**
 * This host's runs awaiting confirmation whose deadline has not come and whose guard is gone (a
 * watchdog killed, a timer stopped by hand): nothing will revert them at their deadline but the
 * next runbook command after it. `runs` and every command's warning say so (issue 24).
 */
export async function unguardedHere(store: RunStore, now = Date.now()): Promise<AwaitingRun[]> {
  if (store.pendingConfirmations().length === 0) return []; // the usual case: one readdir
  const unguarded: AwaitingRun[] = [];
  for (const run of awaitingHere(store)) {
    if (isExpired(run.confirmation.deadline, now) || run.confirmation.rollbackStarted) continue;
    if (!(await isGuardAlive(run.confirmation.guard))) unguarded.push(run);
  }
  return unguarded;
}
