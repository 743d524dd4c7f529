import path from 'node:path';
import type { Executor } from '../exec/types.js';
import type { RunIndex, RunStore } from '../store/run-store.js';
import type { CommandEvent } from './journaled-command.js';
import { isThisHost } from '../host/binding.js';
import { hasChangesLeft } from './changes-left.js';
import { openRecordedRun, recordedNothing, withChangeLocks, type Nothing } from './recorded-run.js';
import { buildingOnEachOther, builtOnError, laterRunsBuiltOn } from './later-runs.js';
import type { UndoReport } from './undo-steps.js';
import { rollbackWhileLocked, stepsToUndo } from './rollback.js';
import type { FindOwners } from './foreign-contents.js';

export interface RollbackAllOptions {
  store: RunStore;
  /** Only runs of this runbook (its name, or the path of its file). */
  runbook: string | undefined;
  executor: Executor;
  signal?: AbortSignal | undefined;
  /** Before each run's undo: which run, and its place in the list. */
  onRun?: ((run: RunIndex, position: number, total: number) => void) | undefined;
  onUndo?: ((runId: string, report: UndoReport) => void) | undefined;
  onCommand?: ((event: CommandEvent) => void) | undefined;
  onNote?: ((note: string) => void) | undefined;
  /** With --runbook: roll back even if runs of other runbooks built on these (later-runs.ts). */
  force?: boolean | undefined;
  /** Names whose are the things a refused undo found (rollback.ts). */
  findOwners?: FindOwners | undefined;
}

export interface RolledBackRun {
  runId: string;
  runbook: string;
  status: 'rolled-back' | 'failed' | 'interrupted';
  steps: UndoReport[];
}

export type RollbackAllResult =
  Nothing | { kind: 'rollback-all'; status: 'rolled-back' | 'failed' | 'interrupted'; runs: RolledBackRun[] };

/**
 * `runbook rollback --all [--runbook NAME]` (issues 12 and 14): undo every run made on this
 * host that still has changes left, newest first — what `state: absent` of the Ansible module
 * means. A host that was run, then repaired by later runs, is only back to where it was once
 * every one of those runs is undone, in the reverse order they were made.
 *
 * It is one operation under one lock, and it is resumable without a journal of its own: each
 * run's undo is journaled in that run's journal (as `runbook rollback ID` does), and the list
 * of what is left is read back from those journals on every call. An interrupted call is
 * finished by calling again (the run it stopped in has an unfinished rollback and is picked
 * first, the newer ones are done); a finished one leaves nothing with changes, so a second call
 * does nothing and exits 0.
 */
export async function rollbackAll(options: RollbackAllOptions): Promise<RollbackAllResult> {
  const command = options.runbook === undefined ? 'rollback --all' : `rollback --all --runbook ${options.runbook}`;
  const { store } = options;
  return withChangeLocks(store, command, options.executor, options.onNote, async () => {
    // A damaged run cannot be read as a run (issue 10): nothing acts on it, but it is named.
    for (const run of store.listRuns().filter((r) => r.status === 'damaged'))
      options.onNote?.(
        `run ${run.id} is damaged (${run.damage}) and is left alone; see: runbook journal ${run.id} --verify`,
      );
    const selected = runsOfThisHost(store, options.runbook);
    const todo = selected.filter((r) => hasChangesLeft(store, r));
    if (todo.length === 0) {
      const which = options.runbook === undefined ? 'no run' : `no run of ${options.runbook}`;
      return { kind: 'nothing', message: `nothing to roll back: ${which} on this host has changes left to undo` };
    }
    // Without --runbook every run of this host goes, newest first: none is left to build on
    // another. With it, a run of another runbook may build on one of these (container-internet
    // on multi-container's steps): refuse before undoing anything, as `rollback ID` does.
    if (options.runbook !== undefined && options.force !== true) {
      const alongWith = new Set(selected.map((r) => r.id));
      for (const index of todo) {
        const run = openRecordedRun(store, index);
        const later = laterRunsBuiltOn(store, run, stepsToUndo(run), alongWith);
        if (later.length > 0) throw builtOnError(index.id, later, buildingOnEachOther(store, run, later));
      }
    }
    const runs: RolledBackRun[] = [];
    for (const [i, index] of todo.entries()) {
      options.onRun?.(index, i + 1, todo.length);
      const result = await rollbackWhileLocked({
        store,
        runId: index.id,
        executor: options.executor,
        signal: options.signal,
        onUndo: (report) => options.onUndo?.(index.id, report),
        onCommand: options.onCommand,
        onNote: options.onNote,
        findOwners: options.findOwners,
        // Checked above, for all of them at once (a later run of the list is undone before it).
        force: true,
      });
      // "nothing" cannot happen for a run picked as having changes left; skip it if it does.
      if (result.kind === 'nothing') continue;
      runs.push({ runId: index.id, runbook: index.runbook, status: result.status, steps: result.steps });
      // An older run's steps may depend on what this one left in place: stop, as a single
      // rollback stops at its first failed undo.
      if (result.status !== 'rolled-back') return { kind: 'rollback-all', status: result.status, runs };
    }
    return { kind: 'rollback-all', status: 'rolled-back', runs };
  });
}

/**
 * The runs of this host (network namespace, hostname, sandbox), newest first, optionally only
 * those of one runbook. Runs of other hosts are never picked: their journals describe another
 * kernel.
 */
function runsOfThisHost(store: RunStore, runbook?: string): RunIndex[] {
  const file = runbook !== undefined && isPath(runbook) ? path.resolve(runbook) : undefined;
  return store
    .listRuns()
    .reverse()
    .filter((r) => r.status !== 'damaged' && isThisHost(r.host))
    .filter((r) => runbook === undefined || r.runbook === runbook || file !== undefined)
    .filter((r) => {
      if (file === undefined) return true;
      if (recordedNothing(store, r)) return false;
      const first = store.readJournal(r.id).lines[0];
      return first?.type === 'run-start' && first.runbookFile === file;
    });
}

/** A runbook given as a path, as `runbook run` tells them apart (see resolveRunbookFile). */
function isPath(nameOrPath: string): boolean {
  return nameOrPath.includes('/') || /\.ya?ml$/.test(nameOrPath);
}
