import type { Executor } from '../exec/types.js';
import type { JournalSink } from '../journal/sink.js';
import type { PlannedStep } from '../plan/plan.js';
import { undoFailure } from './already-gone.js';
import { evaluate } from './expectations.js';
import { InterruptedError, runJournaled, type CommandContext, type CommandEvent } from './journaled-command.js';
import { runGuarded } from './step-commands.js';

export interface UndoReport {
  stepId: string;
  /** not-undoable: the step says `undo: none`; nothing was run for it. */
  outcome: 'undone' | 'undo-failed' | 'not-undoable';
  durationMs: number;
  /**
   * For undo-failed: the check that still holds, or the undo command that failed; for
   * not-undoable: the runbook's reason.
   */
  stillHolds: string | undefined;
  /** A cut-off step whose effect was not there: its undo did not run. */
  notThere?: true;
  /** Its undo did not run: the guard refused it (`stillHolds` says why). */
  refused?: true;
}

export interface UndoResult {
  status: 'rolled-back' | 'failed' | 'interrupted';
  steps: UndoReport[];
}

export interface UndoOptions {
  /** The steps to undo, in the order to undo them (the reverse of the order they were done). */
  steps: readonly PlannedStep[];
  /**
   * Steps whose `do` was cut off (timeout, signal, crash): undone only when their effect is
   * there, since a same-named thing that fails the step's checks is not the run's to delete.
   */
  onlyIfThere?: ReadonlySet<string> | undefined;
  executor: Executor;
  journal: JournalSink;
  signal: AbortSignal | undefined;
  onUndo?: ((report: UndoReport) => void) | undefined;
  onCommand?: ((event: CommandEvent) => void) | undefined;
  /**
   * Asked before a step's undo runs: why it must not (an undo that would delete a container
   * holding what the run did not make: engine/foreign-contents.ts), or undefined. A refused step
   * is not undone, and the walk stops there, as at any step that could not be undone.
   */
  guard?: ((ctx: CommandContext, step: PlannedStep) => Promise<string | undefined>) | undefined;
}

/**
 * Undoes steps one by one. For each: run its undo commands (a failing one is not fatal: the
 * thing may already be gone — deleting a namespace takes its links and routes with it), then
 * check that the effect is gone, i.e. that the step's verification no longer holds. "Already
 * gone" therefore counts as undone, like CNI's DEL. If the effect is still there, stop: the
 * steps before it may depend on it.
 */
export async function undoSteps(options: UndoOptions): Promise<UndoResult> {
  const ctx = {
    executor: options.executor,
    journal: options.journal,
    signal: options.signal,
    onCommand: options.onCommand,
  };
  const reports: UndoReport[] = [];
  try {
    for (const step of options.steps) {
      const started = performance.now();
      if (step.noUndo !== undefined) {
        // The runbook says this change cannot be reversed: report it and go on with the rest,
        // which do not depend on it being undone (it was a one-off action, such as a flush).
        const report: UndoReport = { stepId: step.id, outcome: 'not-undoable', durationMs: 0, stillHolds: step.noUndo };
        options.journal.append({
          type: 'step-undone',
          step: step.id,
          outcome: 'not-undoable',
          durationMs: 0,
          reason: step.noUndo,
        });
        reports.push(report);
        options.onUndo?.(report);
        continue;
      }
      // A cut-off `do` left nothing only when no part of its effect shows: a step with several
      // checks may have been cut off half-way, and half an effect is still the run's to undo.
      const notThere =
        options.onlyIfThere?.has(step.id) === true && (await firstHoldingCheck(ctx, step, 'any')) === undefined;
      let failure: string | undefined;
      const refused = notThere ? undefined : await options.guard?.(ctx, step);
      if (refused !== undefined) {
        const report: UndoReport = {
          stepId: step.id,
          outcome: 'undo-failed',
          durationMs: Math.round(performance.now() - started),
          stillHolds: refused,
          refused: true,
        };
        options.journal.append({
          type: 'step-undone',
          step: step.id,
          outcome: 'undo-failed',
          durationMs: report.durationMs,
          reason: refused,
        });
        reports.push(report);
        options.onUndo?.(report);
        return { status: 'failed', steps: reports };
      }
      if (!notThere) {
        for (const [index, command] of step.undo.entries()) {
          const outcome = await runGuarded(ctx, step.id, 'undo', index, command);
          // A skipped command (its condition said no) and an accepted status are not failures.
          if (outcome.kind === 'ran' && !outcome.ok) failure ??= undoFailure(command.argv, outcome.result);
        }
      }
      const holding = notThere ? undefined : await firstHoldingCheck(ctx, step);
      // An undo that failed for a reason other than "already gone" did not undo, whatever the
      // checks say: what it was to remove may be there still.
      const stillHolds = holding ?? failure;
      const report: UndoReport = {
        stepId: step.id,
        outcome: stillHolds === undefined ? 'undone' : 'undo-failed',
        durationMs: Math.round(performance.now() - started),
        stillHolds,
        ...(notThere ? { notThere: true as const } : {}),
      };
      options.journal.append({
        type: 'step-undone',
        step: step.id,
        outcome: report.outcome,
        durationMs: report.durationMs,
      });
      reports.push(report);
      options.onUndo?.(report);
      if (report.outcome === 'undo-failed') return { status: 'failed', steps: reports };
    }
    return { status: 'rolled-back', steps: reports };
  } catch (error) {
    if (error instanceof InterruptedError) return { status: 'interrupted', steps: reports };
    throw error;
  }
}

/**
 * The step's effect is gone when its verification no longer holds. Returns why it cannot be
 * called gone — a check that still holds, or a check that could not run at all (timed out, not
 * installed), which proves nothing — or undefined when it is gone.
 */
async function firstHoldingCheck(
  ctx: Parameters<typeof runJournaled>[0],
  step: PlannedStep,
  /** 'all': the effect is there when every check holds (after an undo); 'any': when one does. */
  present: 'all' | 'any' = 'all',
): Promise<string | undefined> {
  const results: boolean[] = [];
  for (const [index, check] of step.verify.entries()) {
    const result = await runJournaled(ctx, step.id, 'undo-check', index, check);
    if (result.timedOut || result.startError !== undefined) {
      const why = result.timedOut ? `timed out after ${result.durationMs} ms` : `could not start: ${result.startError}`;
      ctx.journal.append({
        type: 'check',
        step: step.id,
        phase: 'undo-check',
        index,
        ok: false,
        reason: `could not check: ${why}`,
        evidence: undefined,
      });
      return `could not check that it is gone: ${check.argv.join(' ')} ${why}`;
    }
    const verdict = evaluate(check.expect, result);
    ctx.journal.append({
      type: 'check',
      step: step.id,
      phase: 'undo-check',
      index,
      ok: !verdict.ok,
      reason: verdict.ok ? 'the effect is still present' : 'the effect is gone',
      evidence: verdict.evidence,
    });
    results.push(verdict.ok);
  }
  // A step's verification holds only when all its checks do; if any fails, the effect is gone.
  // For a cut-off `do` ('any'), one check that holds shows part of the effect is there.
  const holds = present === 'all' ? results.every(Boolean) : results.some(Boolean);
  return results.length > 0 && holds
    ? `still in effect: ${step.verify.map((c) => c.argv.join(' ')).join(' && ')} still holds`
    : undefined;
}
