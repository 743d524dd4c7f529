import type { Executor } from '../exec/types.js';
import type { RunIndex, RunStore } from '../store/run-store.js';
import { RunbookError } from '../errors.js';
import type { PlannedStep } from '../plan/plan.js';
import { requirePrograms, spawned } from '../host/preflight.js';
import type { CommandEvent } from './journaled-command.js';
import {
  continueRun,
  openRecordedRun,
  selectRun,
  withChangeLocks,
  type Nothing,
  type RecordedRun,
} from './recorded-run.js';
import { hasChangesLeft } from './changes-left.js';
import { buildingOnEachOther, builtOnError, laterRunsBuiltOn } from './later-runs.js';
import { stepsInEffect } from './run-history.js';
import { checkWithValues, importedValues, withValues } from './step-values.js';
import { containmentGuard, type FindOwners } from './foreign-contents.js';
import { TemplateError } from '../runbook/template.js';
import { undoSteps, type UndoReport, type UndoResult } from './undo-steps.js';

export interface RollbackOptions {
  store: RunStore;
  runId: string | undefined;
  executor: Executor;
  signal?: AbortSignal | undefined;
  onUndo?: ((report: UndoReport) => void) | undefined;
  onCommand?: ((event: CommandEvent) => void) | undefined;
  onNote?: ((note: string) => void) | undefined;
  /** Set for an automatic revert of an unconfirmed run (issue 15): journaled as its reason. */
  reason?: string | undefined;
  /** The run, when the caller has opened it already (the automatic revert): not selected again. */
  opened?: RecordedRun | undefined;
  /**
   * Roll back even if later runs built on what this run made (`--force`); without it, such a
   * rollback is refused, nothing changed (later-runs.ts). Set by callers that know no later run
   * can exist (the run's own --rollback-on-failure) or that must not be refused (an automatic
   * revert) or that checked already (rollback --all).
   */
  force?: boolean | undefined;
  /**
   * Names the runs (of this state dir and others on the host) that made what a container to be
   * deleted holds, for the refusal's evidence (engine/foreign-contents.ts); without it, the
   * refusal gives the kernel's evidence alone.
   */
  findOwners?: FindOwners | undefined;
  /**
   * A replace (issue 23): only these steps are undone (those whose new values differ), then the
   * run is marked replaced by `runId`, which takes over `handOver` (the steps the values keep).
   */
  replacing?: { only: ReadonlySet<string>; by: string; handOver: readonly string[] } | undefined;
}

export type RollbackResult = Nothing | ({ kind: 'rollback'; runId: string; planned: string[] } & UndoResult);

/**
 * `runbook rollback`: undoes, in reverse order, exactly the steps the run changed, as its
 * journal records them across all attempts — including a failed step whose `do` ran, and
 * never a step that already held before the run. Journaled in the run's own journal, so a
 * crashed rollback is finished by running rollback again; a finished one is not repeated.
 * Refused (nothing changed) while a later run builds on what it would undo, unless `force`.
 */
export async function rollbackRun(options: RollbackOptions): Promise<RollbackResult> {
  return withChangeLocks(options.store, 'rollback', options.executor, options.onNote, () =>
    rollbackWhileLocked(options),
  );
}

/** The rollback itself, for a caller that holds the state dir's lock (run --rollback-on-failure). */
export async function rollbackWhileLocked(options: RollbackOptions): Promise<RollbackResult> {
  const { store } = options;
  if (options.opened !== undefined) return undoReplacedFirst(options, options.opened);
  const run = selectRun({
    store,
    runId: options.runId,
    verb: 'roll back',
    eligible: (index) => !undoneAlready.has(index.status) && hasChangesLeft(store, index),
    noneMessage: 'nothing to roll back: no recorded run has changes left to undo',
    refuse: (index) =>
      index.status === 'rolled-back'
        ? 'is already rolled back'
        : index.status === 'reverted'
          ? 'was already reverted automatically (it was not confirmed in time)'
          : index.status === 'replaced'
            ? 'was replaced by a later run of its runbook, which answers for what it kept: roll that one back'
            : undefined,
    onNote: options.onNote,
  });
  if (run.kind === 'nothing') return run;
  return undoReplacedFirst(options, run);
}

/**
 * A run whose replace of earlier runs was cut short (issue 23: killed, or an undo that failed)
 * answers for the steps it took over, while those runs still hold what the replace was to
 * undo, made on top of them (an address on the link the run took over). That is undone first,
 * in their own journals, as the replace would have (and they are marked replaced); then the
 * run itself. Otherwise undoing the taken-over link would delete what another run made, which
 * rollback never does (issue 22), and the rollback would stop there.
 */
async function undoReplacedFirst(options: RollbackOptions, run: RecordedRun): Promise<RollbackResult> {
  const { replaces, replaceFinished } = run.history;
  if (options.replacing === undefined && replaces !== undefined && !replaceFinished) {
    for (const replaced of replaces) {
      const index = options.store.readRun(replaced.runId);
      if (index === undefined) continue;
      const earlier = openRecordedRun(options.store, index);
      if (earlier.history.replaced) continue;
      if (options.force !== true) {
        const left = stepsToUndo(earlier).filter((id) => replaced.undo.includes(id));
        const later = laterRunsBuiltOn(options.store, earlier, left, new Set([run.index.id, earlier.index.id]));
        if (later.length > 0) throw builtOnError(earlier.index.id, later);
      }
      const result = await undoRecordedRun(
        {
          ...options,
          // Checked just above, with the run that replaces it left out (it is being undone too).
          force: true,
          runId: replaced.runId,
          opened: earlier,
          reason: undefined,
          replacing: { only: new Set(replaced.undo), by: run.index.id, handOver: replaced.takeOver.map((t) => t.step) },
        },
        earlier,
      );
      if (result.kind === 'rollback' && result.status !== 'rolled-back') return result;
    }
  }
  return undoRecordedRun(options, run);
}

/** Undoes what a selected run changed and is not undone yet, journaled in its own journal. */
async function undoRecordedRun(options: RollbackOptions, run: RecordedRun): Promise<RollbackResult> {
  const { store, replacing } = options;
  const undone = new Set(run.history.undoneSteps);
  const stepsById = new Map<string, PlannedStep>(run.plan.steps.map((s) => [s.id, s]));
  const toUndo = stepsToUndo(run)
    .filter((id) => replacing === undefined || replacing.only.has(id))
    .map((id) => stepsById.get(id))
    .filter((s): s is PlannedStep => s !== undefined)
    .map((step) => withRecordedValues(step, run));
  if (options.force !== true) {
    const later = laterRunsBuiltOn(
      store,
      run,
      toUndo.map((s) => s.id),
    );
    if (later.length > 0) throw builtOnError(run.index.id, later, buildingOnEachOther(store, run, later));
  }

  requirePrograms(
    options.executor,
    toUndo.flatMap((step) =>
      [...step.undo.flatMap((c) => (c.condition === undefined ? [c] : [c, c.condition])), ...step.verify].flatMap(
        spawned,
      ),
    ),
    `rolling back run ${run.index.id}`,
  );
  const continuing = undone.size > 0 ? `continuing a rollback: ${undone.size} step(s) already undone` : undefined;
  const replaced =
    replacing === undefined
      ? undefined
      : `replaced by run ${replacing.by} (other values): undoing the steps that differ, handing over the rest`;
  const note = [options.reason, replaced, continuing].filter(Boolean).join('; ') || undefined;
  const { reason } = options;
  const replacedBy = replacing?.by;
  return continueRun(store, run, replacing === undefined ? 'rollback' : 'replace', note, async (journal) => {
    const planned = toUndo.map((s) => s.id);
    journal.append({ type: 'rollback-start', steps: planned, reason, replacedBy });
    const result = await undoSteps({
      steps: toUndo,
      onlyIfThere: new Set(run.history.cutOffSteps),
      executor: options.executor,
      journal,
      signal: options.signal,
      onUndo: options.onUndo,
      onCommand: options.onCommand,
      // Never delete a container holding what this run did not make (issue 22), whoever made it.
      guard: containmentGuard(ownNamesOf(run), (names) => options.findOwners?.(names, run.index.id) ?? new Map()),
    });
    const failed = result.steps.find((s) => s.outcome === 'undo-failed');
    journal.append({
      type: 'rollback-end',
      status: result.status,
      message: failed === undefined ? undefined : `step ${failed.stepId} after its undo: ${failed.stillHolds}`,
      reason,
      replacedBy,
    });
    // What the new values keep is the replacing run's from here on (it claimed it already).
    if (replacing !== undefined && result.status === 'rolled-back')
      journal.append({ type: 'replaced', by: replacing.by, handedOver: [...replacing.handOver] });
    return { kind: 'rollback' as const, runId: run.index.id, planned, ...result };
  });
}

/** The steps a rollback of `run` undoes, in the order it undoes them: what it changed and is not undone yet, newest first. */
export function stepsToUndo(run: RecordedRun): string[] {
  return stepsInEffect(run.history).reverse();
}

/**
 * What a run made its objects with: every word of the commands of the steps it changed (their
 * `do` and `undo`, captured values filled in) and every value it captured. An object in a
 * container whose name is none of these is not the run's (engine/foreign-contents.ts).
 */
export function ownNamesOf(run: RecordedRun): Set<string> {
  const names = new Set<string>();
  const changed = new Set(run.history.changedSteps);
  for (const step of run.plan.steps) {
    if (!changed.has(step.id)) continue;
    // The values known only at run time, as journaled: what it captured, what earlier steps
    // exported to it (issue 28).
    const imported = importedValues(step, run.history.exports);
    const values = { ...('values' in imported ? imported.values : {}), ...run.history.captures.get(step.id) };
    for (const value of Object.values(values)) names.add(value);
    for (const command of [...step.do, ...step.undo])
      for (const word of safeFill(command, values).argv) names.add(word);
  }
  return names;
}

/** A command with runtime values filled in, or as planned if they cannot fill it. */
function safeFill(command: PlannedStep['do'][number], values: Record<string, string>): PlannedStep['do'][number] {
  try {
    return withValues(command, values);
  } catch {
    return command;
  }
}

/** Runs whose changes are undone already: never a default rollback target. */
const undoneAlready: ReadonlySet<RunIndex['status']> = new Set(['rolled-back', 'reverted']);

/**
 * Fills a step's undo commands with the values its run journaled, never read again from the host:
 * what it captured before doing it, and what earlier steps exported to it (issue 28); its checks
 * (run after the undo) with the latter. A value the journal lacks stops the rollback before
 * anything runs: an undo cannot guess what to restore.
 */
function withRecordedValues(step: PlannedStep, run: RecordedRun): PlannedStep {
  const captured = run.history.captures.get(step.id) ?? {};
  const missing = step.capture.filter((c) => captured[c.name] === undefined).map((c) => `captured ${c.name}`);
  const imported = importedValues(step, run.history.exports);
  if ('missing' in imported)
    missing.push(`{{${/\{\{(\w+)\}\}/.exec(imported.missing)?.[1] ?? '?'}}} of an earlier step`);
  if (missing.length > 0) {
    throw new RunbookError(
      'journal-damaged',
      `step ${step.id} changed the host but its ${missing.join(', ')} is not in the journal: its undo cannot know what to restore`,
    );
  }
  const imports = 'values' in imported ? imported.values : {};
  if (step.capture.length === 0 && Object.keys(imports).length === 0) return step;
  const values = { ...imports, ...captured };
  try {
    return {
      ...step,
      undo: step.undo.map((c) => withValues(c, values)),
      verify: step.verify.map((c) => checkWithValues(c, imports)),
    };
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    // A recorded value the undo cannot use (`{{old + 1}}` with a value that is not a number):
    // said as such, not as an internal error that would leave the run stuck (issue 22).
    throw new RunbookError(
      'step-failed',
      `step ${step.id}'s undo cannot be filled with the values its run recorded: ${error.message}; nothing was undone`,
      { hint: '`runbook journal` shows what the run captured; undo that step by hand' },
    );
  }
}
