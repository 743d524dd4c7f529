import { RunbookError } from '../errors.js';
import { listPendingMarkers, type PendingConfirmation } from '../journal/pending-confirmations.js';
import type { CliContext } from './context.js';
import { forUser } from '../host/user-command.js';

/**
 * Belt and braces for `run --confirm-within` (issue 15): if a run's watchdog is gone (killed,
 * or the machine restarted), the next runbook command in the state dir finds the run past its
 * deadline unconfirmed and reverts it first, saying so — and finishes an automatic revert that
 * was cut short. When nothing is pending this costs one readdir of a directory that usually
 * does not exist; the engine is loaded only when a run is due.
 */

/** Commands that act on runs or the host: they revert a due run first, or do not run at all. */
const mustRevertFirst: ReadonlySet<string> = new Set(['run', 'resume', 'rollback', 'check', 'confirm']);
/** Commands that only read: they revert a due run if they can, else warn and go on. */
const mayRevertFirst: ReadonlySet<string> = new Set(['runs', 'journal']);

/** The runs of this host whose marker says their deadline has passed (no journal read). */
export async function dueHere(stateDir: string, now = Date.now()): Promise<PendingConfirmation[]> {
  const expired = listPendingMarkers(stateDir).filter((m) => Date.parse(m.deadline) <= now);
  if (expired.length === 0) return []; // the usual case: nothing more is loaded
  const { isThisHost } = await import('../host/binding.js');
  return expired.filter((m) => isThisHost(m.host)).sort((a, b) => a.runId.localeCompare(b.runId));
}

/** Run before a command's action: reverts this host's due runs, reporting on stderr. */
export async function revertExpiredFirst(ctx: CliContext, command: string): Promise<void> {
  const required = mustRevertFirst.has(command);
  if (!required && !mayRevertFirst.has(command)) return;
  const due = await dueHere(ctx.stateDir);
  if (due.length === 0) return;
  try {
    await revert(ctx, due);
  } catch (error) {
    if (required || !(error instanceof RunbookError)) throw error;
    ctx.err(`warning: ${error.message}`);
    ctx.err(
      `warning: going on with \`runbook ${command}\`, which only reads; what it shows may change once the revert is done`,
    );
  }
}

async function revert(ctx: CliContext, due: readonly PendingConfirmation[]): Promise<void> {
  for (const marker of due) {
    ctx.err(`run ${marker.runId} was not confirmed by ${marker.deadline}: reverting it first (automatic revert)`);
  }
  const [{ requireNetAdmin }, { revertDueRuns }, { createExecaExecutor }, { withInterruptSignal }, { formatUndoLine }] =
    await Promise.all([
      import('../host/privileges.js'),
      import('../engine/revert-unconfirmed.js'),
      import('../exec/execa-executor.js'),
      import('./signals.js'),
      import('./commands/rollback.js'),
    ]);
  requireNetAdmin(
    'the automatic revert',
    'run any runbook command on runs as root (e.g. sudo runbook runs) to revert it',
  );
  const outcomes = await withInterruptSignal(ctx, (signal) =>
    revertDueRuns({
      stateDir: ctx.stateDir,
      runIds: due.map((m) => m.runId),
      executor: createExecaExecutor(),
      signal,
      // The watchdog may be reverting the run right now: wait for it rather than fail.
      lockWaitMs: 15_000,
      onUndo: (report) => ctx.err(formatUndoLine(report)),
      onNote: (note) => ctx.err(`note: ${note}`),
    }),
  );
  for (const outcome of outcomes) {
    if (outcome.kind === 'not-due') continue;
    if (outcome.kind === 'settled') {
      ctx.err(`run ${outcome.runId} no longer awaits confirmation (${outcome.confirmation.state}): nothing to revert`);
      continue;
    }
    const { result, runId } = outcome;
    if (result.kind === 'nothing') {
      ctx.err(result.message);
    } else if (result.status === 'rolled-back') {
      ctx.err(`run ${runId} reverted: ${result.steps.length} step(s) undone (not confirmed by ${outcome.deadline})`);
    } else if (result.status === 'interrupted') {
      throw new RunbookError('interrupted', `the automatic revert of run ${runId} was interrupted at a safe point`, {
        hint: 'run any runbook command again to finish it',
      });
    } else {
      const failed = result.steps.find((s) => s.outcome === 'undo-failed');
      throw new RunbookError(
        'step-failed',
        `the automatic revert of run ${runId} stopped at step ${failed?.stepId}: ${failed?.stillHolds}`,
        {
          hint: `see its undo commands with \`${forUser(`runbook journal ${runId}`)}\`, fix the cause, then \`${forUser(`runbook rollback ${runId}`)}\``,
        },
      );
    }
  }
}
