import { rollbackAll } from '../../engine/rollback-all.js';
import { rollbackRun, type RollbackResult } from '../../engine/rollback.js';
import type { UndoReport } from '../../engine/undo-steps.js';
import { createHostExecutor } from '../../exec/host-executor.js';
import { exitCodeFor, invalidInput } from '../../errors.js';
import { requireNetAdmin } from '../../host/privileges.js';
import type { CliContext } from '../context.js';
import { jsonLine, logCommand } from '../output.js';
import { afterInterrupt, withInterruptSignal } from '../signals.js';
import { forUser } from '../../host/user-command.js';

/** `runbook rollback [run-id]`: undo, in reverse order, exactly what a run changed. */
export async function rollbackCommand(
  ctx: CliContext,
  runId: string | undefined,
  options: { json?: boolean; all?: boolean; runbook?: string; force?: boolean },
): Promise<number> {
  if (options.all && runId !== undefined)
    throw invalidInput(
      `rollback: give a run id or --all, not both; nothing was changed`,
      'one run: runbook rollback ID; every run on this host with changes left: runbook rollback --all',
    );
  if (options.runbook !== undefined && !options.all)
    throw invalidInput(
      `rollback: --runbook ${options.runbook} selects runs for --all; nothing was changed`,
      `every run of it on this host: runbook rollback --all --runbook ${options.runbook}`,
    );
  requireNetAdmin(options.all ? 'runbook rollback --all' : 'runbook rollback');
  if (options.all) return rollbackAllCommand(ctx, options.runbook, options.json === true, options.force === true);
  const result = await withInterruptSignal(
    ctx,
    (signal) =>
      rollbackRun({
        store: ctx.store,
        runId,
        executor: createHostExecutor(),
        signal,
        force: options.force === true,
        onUndo: (report) => ctx.out(options.json ? jsonLine({ event: 'undo', ...report }) : formatUndoLine(report)),
        onCommand: logCommand(ctx),
        onNote: (note) => ctx.err(`note: ${note}`),
      }),
    afterInterrupt.rollback,
  );
  return reportRollback(ctx, result, options.json === true);
}

/** Prints how a rollback ended and returns the exit code (shared with run --rollback-on-failure). */
export function reportRollback(ctx: CliContext, result: RollbackResult, json: boolean): number {
  if (result.kind === 'nothing') {
    ctx.out(json ? jsonLine({ event: 'nothing', message: result.message }) : result.message);
    return exitCodeFor('ok');
  }
  if (json) {
    ctx.out(
      jsonLine({
        event: 'rollback-end',
        runId: result.runId,
        status: result.status,
        planned: result.planned,
        undone: result.steps.filter((s) => s.outcome === 'undone').map((s) => s.stepId),
        notUndoable: result.steps.filter((s) => s.outcome === 'not-undoable').map((s) => s.stepId),
        failedStep: result.steps.find((s) => s.outcome === 'undo-failed')?.stepId,
        message: result.steps.find((s) => s.outcome === 'undo-failed')?.stillHolds,
      }),
    );
  } else if (result.status === 'rolled-back') {
    ctx.out(
      `run ${result.runId} rolled back: ${result.steps.filter((s) => s.outcome === 'undone').length} step(s) undone${result.steps.length === 0 ? ' (it had changed nothing)' : ''}${notUndoable(result.steps)}`,
    );
  } else if (result.status === 'interrupted') {
    ctx.out(
      `rollback of run ${result.runId} interrupted at a safe point; finish it with \`${forUser(`runbook rollback ${result.runId}`)}\``,
    );
  } else {
    const failed = result.steps.find((s) => s.outcome === 'undo-failed');
    const undone = new Set(result.steps.filter((s) => s.outcome === 'undone').map((s) => s.stepId));
    const left = result.planned.filter((id) => !undone.has(id));
    ctx.err(`rollback of run ${result.runId} stopped at step ${failed?.stepId}: ${failed?.stillHolds}`);
    ctx.err(`left in place, not undone: ${left.join(', ')}`);
    ctx.err(
      `next: see what its undo commands said with \`${forUser(`runbook journal ${result.runId}`)}\`, fix it, then \`${forUser(`runbook rollback ${result.runId}`)}\` again`,
    );
  }
  return exitCodeFor(result.status);
}

export function formatUndoLine(report: UndoReport): string {
  if (report.outcome === 'not-undoable')
    return `  ${report.outcome.padEnd(12)} ${report.stepId}  (left as it is: ${report.stillHolds})`;
  const note = report.notThere ? '  (its cut-off command had not taken effect: not there, nothing to undo)' : '';
  return `  ${report.outcome.padEnd(11)} ${report.stepId}  (${report.durationMs} ms)${note}`;
}

/** ", 1 step not undoable (flush-neighbours)" when the runbook declared some `undo: none`. */
function notUndoable(steps: readonly UndoReport[]): string {
  const ids = steps.filter((s) => s.outcome === 'not-undoable').map((s) => s.stepId);
  return ids.length === 0 ? '' : `; ${ids.length} step(s) not undoable, left as they are: ${ids.join(', ')}`;
}

/**
 * `runbook rollback --all [--runbook NAME]`: every run on this host with changes left, newest
 * first (src/engine/rollback-all.ts). One block per run, as `rollback ID` prints it.
 */
async function rollbackAllCommand(
  ctx: CliContext,
  runbook: string | undefined,
  json: boolean,
  force: boolean,
): Promise<number> {
  const result = await withInterruptSignal(
    ctx,
    (signal) =>
      rollbackAll({
        store: ctx.store,
        runbook,
        force,
        executor: createHostExecutor(),
        signal,
        onRun: (run, position, total) => {
          if (!json) ctx.out(`rollback of run ${run.id} (${run.runbook}), ${position} of ${total}, newest first`);
        },
        onUndo: (runId, report) =>
          ctx.out(json ? jsonLine({ event: 'undo', runId, ...report }) : formatUndoLine(report)),
        onCommand: logCommand(ctx),
        onNote: (note) => ctx.err(`note: ${note}`),
      }),
    afterInterrupt.rollback,
  );
  if (result.kind === 'nothing') {
    ctx.out(json ? jsonLine({ event: 'nothing', message: result.message }) : result.message);
    return exitCodeFor('ok');
  }
  const undone = result.runs.reduce((n, run) => n + run.steps.filter((s) => s.outcome === 'undone').length, 0);
  const last = result.runs.at(-1);
  const failed = last?.steps.find((s) => s.outcome === 'undo-failed');
  if (json) {
    ctx.out(
      jsonLine({
        event: 'rollback-all-end',
        status: result.status,
        runbook,
        undone,
        runs: result.runs.map((run) => ({
          runId: run.runId,
          runbook: run.runbook,
          status: run.status,
          undone: run.steps.filter((s) => s.outcome === 'undone').map((s) => s.stepId),
          notUndoable: run.steps.filter((s) => s.outcome === 'not-undoable').map((s) => s.stepId),
        })),
        failedRun: result.status === 'failed' ? last?.runId : undefined,
        failedStep: failed?.stepId,
        message: failed?.stillHolds,
      }),
    );
  } else if (result.status === 'rolled-back') {
    ctx.out(
      `rolled back ${result.runs.length} run(s), newest first: ${undone} step(s) undone${notUndoable(result.runs.flatMap((run) => run.steps))}`,
    );
  } else if (result.status === 'interrupted') {
    ctx.out(
      `rollback --all interrupted at a safe point in run ${last?.runId}; finish it with \`runbook rollback --all\``,
    );
  } else {
    ctx.err(`rollback --all stopped in run ${last?.runId} at step ${failed?.stepId}: ${failed?.stillHolds}`);
    ctx.err(
      `next: see what its undo commands said with \`runbook journal ${last?.runId}\`, fix it, then \`runbook rollback --all\` again (the older runs are still to undo)`,
    );
  }
  return exitCodeFor(result.status);
}
