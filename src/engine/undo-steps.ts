import { fromPromise } from 'xstate';
import type { Executor } from '../exec/types.js';
import type { JournalSink } from '../journal/sink.js';
import type { PlannedStep } from '../plan/plan.js';
import { undoFailure } from './already-gone.js';
import { evaluate } from './expectations.js';
import { runJournaled, type CommandContext, type CommandEvent } from './journaled-command.js';
import { runGuarded } from './step-commands.js';
import {
  buildUndoMachine,
  type EffectInput,
  type EffectOutput,
  type GuardOutput,
  type UndoCommandsOutput,
  type UndoReport,
  type UndoResult,
} from './undo-machine.js';
import { driveWalk, timed } from './walk-machine.js';

export type { UndoReport, UndoResult } from './undo-machine.js';

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
 * Undoes steps one by one, through the rollback machine (undo-machine.ts). For each: run its
 * undo commands (a failing one is not fatal: the thing may already be gone — deleting a
 * namespace takes its links and routes with it), then check that the effect is gone, i.e. that
 * the step's verification no longer holds. "Already gone" therefore counts as undone, like
 * CNI's DEL. If the effect is still there, stop: the steps before it may depend on it. Each
 * undone step is journaled (`step-undone`) and shown once its report is in.
 */
export async function undoSteps(options: UndoOptions): Promise<UndoResult> {
  const ctx = {
    executor: options.executor,
    journal: options.journal,
    signal: options.signal,
    onCommand: options.onCommand,
  };
  const steps = new Map(options.steps.map((s) => [s.id, s]));
  const stepOf = (stepId: string): PlannedStep => {
    const step = steps.get(stepId);
    if (step === undefined) throw new Error(`unknown step ${stepId}`);
    return step;
  };
  const machine = buildUndoMachine(options.steps, options.onlyIfThere, {
    actors: {
      lookForEffect: fromPromise<EffectOutput, EffectInput>(({ input }) =>
        timed(async () => ({ stillThere: await firstHoldingCheck(ctx, stepOf(input.stepId), input.present) })),
      ),
      askGuard: fromPromise<GuardOutput, { stepId: string }>(({ input }) =>
        timed(async () => ({ refusal: await options.guard?.(ctx, stepOf(input.stepId)) })),
      ),
      runUndo: fromPromise<UndoCommandsOutput, { stepId: string }>(({ input }) =>
        timed(async () => ({ failure: await runUndoCommands(ctx, stepOf(input.stepId)) })),
      ),
    },
    actions: {
      stepFinished: ({ context }) => {
        const report = context.steps.at(-1);
        if (report === undefined) return;
        // Journaled with its reason when no undo ran for it: the runbook says this change cannot
        // be reversed (the rest goes on: it was a one-off action, such as a flush, nothing
        // depends on), or the guard refused it (the walk stops there).
        const reason = report.outcome === 'not-undoable' || report.refused === true ? report.stillHolds : undefined;
        options.journal.append({
          type: 'step-undone',
          step: report.stepId,
          outcome: report.outcome,
          durationMs: report.durationMs,
          ...(reason !== undefined && { reason }),
        });
        options.onUndo?.(report);
      },
    },
  });
  const { status, steps: reports } = await driveWalk(machine);
  return { status, steps: reports };
}

/**
 * Runs a step's undo commands, all of them (each removes its own part). Returns the first that
 * failed for a reason other than "already gone", or undefined.
 */
async function runUndoCommands(ctx: CommandContext, step: PlannedStep): Promise<string | undefined> {
  let failure: string | undefined;
  for (const [index, command] of step.undo.entries()) {
    const outcome = await runGuarded(ctx, step.id, 'undo', index, command);
    // A skipped command (its condition said no) and an accepted status are not failures.
    if (outcome.kind === 'ran' && !outcome.ok) failure ??= undoFailure(command.argv, outcome.result);
  }
  return failure;
}

/**
 * The step's effect is gone when its verification no longer holds. Returns why it cannot be
 * called gone — a check that still holds, or a check that could not run at all (timed out, not
 * installed), which proves nothing — or undefined when it is gone.
 */
async function firstHoldingCheck(
  ctx: CommandContext,
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
