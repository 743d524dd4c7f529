import type { ReplaceOutcome } from '../../engine/replace.js';
import type { ReplacedRun } from '../../journal/entries.js';
import { nextStepsHint, type NextSteps } from '../output.js';
import type { Render } from '../render-advice.js';

/**
 * How `run` and `resume` tell of a replace (issue 23): which earlier runs it replaces, what it
 * undoes of them and takes over, and how it ended when it stopped before the run's own steps.
 */

/** The lines before the undo of a replace: one per earlier run. */
export function formatReplaceStart(replaces: readonly ReplacedRun[]): string[] {
  return replaces.map((run) => {
    const undo = run.undo.length === 0 ? 'nothing to undo' : `undoing ${run.undo.length} step(s) of it, newest first`;
    return `replacing run ${run.runId} (other values): ${undo}; ${run.takeOver.length} step(s) kept and taken over`;
  });
}

/** "; it replaced run X" for the summary line of a run that replaced others. */
export function replacedNote(replaced: ReplaceOutcome | undefined): string {
  if (replaced === undefined) return '';
  const runs = replaced.undone.map((u) => u.runId);
  return runs.length === 0 ? '' : `; it replaced run ${runs.join(', ')}`;
}

/** A replace that stopped before the run's own steps: why, and what next. */
export function formatReplaceStopped(
  runId: string,
  replaced: ReplaceOutcome,
  next: NextSteps,
  render: Render,
): string[] {
  return [
    `run ${runId} ${replaced.status === 'interrupted' ? 'interrupted' : 'failed'} before its own steps: ${replaced.message}`,
    ...nextStepsHint(runId, next, render),
  ];
}

/** The `replaced` field of run-end (docs/json-output.md): how the replace went, run by run. */
export function replacedJson(replaced: ReplaceOutcome | undefined): Record<string, unknown> | undefined {
  if (replaced === undefined) return undefined;
  return {
    status: replaced.status,
    message: replaced.message,
    runs: replaced.undone.map((u) => ({
      runId: u.runId,
      undone: u.steps.filter((s) => s.outcome === 'undone').map((s) => s.stepId),
    })),
  };
}
