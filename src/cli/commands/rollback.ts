import { rollbackRun, type RollbackResult } from '../../engine/rollback.js';
import type { UndoReport } from '../../engine/undo-steps.js';
import { createExecaExecutor } from '../../exec/execa-executor.js';
import { ExitCode } from '../../errors.js';
import { requireNetAdmin } from '../../host/privileges.js';
import type { CliContext } from '../context.js';
import { jsonLine, logCommand } from '../output.js';
import { withInterruptSignal } from '../signals.js';

/** `runbook rollback [run-id]`: undo, in reverse order, exactly what a run changed. */
export async function rollbackCommand(
  ctx: CliContext,
  runId: string | undefined,
  options: { json?: boolean },
): Promise<number> {
  requireNetAdmin('runbook rollback');
  const result = await withInterruptSignal(ctx, (signal) =>
    rollbackRun({
      stateDir: ctx.stateDir,
      runId,
      executor: createExecaExecutor(),
      signal,
      onUndo: (report) => ctx.out(options.json ? jsonLine({ event: 'undo', ...report }) : formatUndoLine(report)),
      onCommand: logCommand(ctx),
      onNote: (note) => ctx.err(`note: ${note}`),
    }),
  );
  return reportRollback(ctx, result, options.json === true);
}

/** Prints how a rollback ended and returns the exit code (shared with run --rollback-on-failure). */
export function reportRollback(ctx: CliContext, result: RollbackResult, json: boolean): number {
  if (result.kind === 'nothing') {
    ctx.out(json ? jsonLine({ event: 'nothing', message: result.message }) : result.message);
    return ExitCode.ok;
  }
  if (json) {
    ctx.out(jsonLine({ event: 'rollback-end', runId: result.runId, status: result.status, planned: result.planned }));
  } else if (result.status === 'rolled-back') {
    ctx.out(
      `run ${result.runId} rolled back: ${result.steps.filter((s) => s.outcome === 'undone').length} step(s) undone${result.steps.length === 0 ? ' (it had changed nothing)' : ''}${notUndoable(result.steps)}`,
    );
  } else if (result.status === 'interrupted') {
    ctx.out(
      `rollback of run ${result.runId} interrupted at a safe point; finish it with \`runbook rollback ${result.runId}\``,
    );
  } else {
    const failed = result.steps.find((s) => s.outcome === 'undo-failed');
    const undone = new Set(result.steps.filter((s) => s.outcome === 'undone').map((s) => s.stepId));
    const left = result.planned.filter((id) => !undone.has(id));
    ctx.err(`rollback of run ${result.runId} stopped at step ${failed?.stepId}: ${failed?.stillHolds}`);
    ctx.err(`left in place, not undone: ${left.join(', ')}`);
    ctx.err(
      `next: see what its undo commands said with \`runbook journal ${result.runId}\`, fix it, then \`runbook rollback ${result.runId}\` again`,
    );
  }
  return { 'rolled-back': ExitCode.ok, failed: ExitCode.stepFailed, interrupted: ExitCode.interrupted }[result.status];
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
