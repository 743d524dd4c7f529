import { RunbookError } from '../errors.js';
import type { Guard } from '../engine/confirm-within/confirmation.js';
import type { PendingConfirmation } from '../journal/pending-confirmations.js';
import type { RunStore } from '../store/run-store.js';
import type { DueRunsPolicy } from './command-spec.js';
import type { CliContext } from './context.js';
import { advice, runbookCommand } from '../suggestion.js';

/**
 * Belt and braces for `run --confirm-within` (issues 15 and 24): if a run's guard is gone (a
 * watchdog killed, or the machine restarted), the next runbook command in the state dir that
 * changes the host finds the run past its deadline unconfirmed and reverts it first, saying so
 * — and finishes an automatic revert that was cut short. A command that only reads never does
 * (issue 22): it says that a run awaits its revert and which command does it. Before the
 * deadline, commands say when an awaiting run has lost its guard. Called by the door
 * (door.ts), after the state dir is trusted, never before. When nothing is pending this costs
 * one readdir of a directory that usually does not exist; the engine is loaded only when a run
 * is pending.
 */

/** `runs` shows a lost guard in its own list, and `confirm` acts on the runs: neither warns. */
const quietAboutGuards: ReadonlySet<string> = new Set(['runs', 'confirm']);

/**
 * Before the action of a command that declares `dueRuns` (src/cli/command-spec.ts), the state
 * dir trusted: a command that changes the host or the runs reverts this host's due runs first
 * (`revert`), or does not run at all; one that reads and changes neither says a run awaits its
 * revert (`report`). Then, either way, a run awaiting confirmation whose guard is gone is named.
 */
export async function settleExpiredRuns(
  ctx: CliContext,
  store: RunStore,
  command: string,
  policy: DueRunsPolicy,
): Promise<void> {
  if (store.pendingConfirmations().length === 0) return; // the usual case: nothing more is loaded
  const [{ dueHere }, { unguardedHere }] = await Promise.all([
    import('../engine/confirm-within/revert-due.js'),
    import('../engine/confirm-within/awaiting.js'),
  ]);
  const due = dueHere(store);
  if (due.length > 0) {
    if (policy === 'revert') await revert(ctx, store, due);
    else reportDue(ctx, due, command);
  }
  if (quietAboutGuards.has(command)) return;
  for (const run of await unguardedHere(store)) {
    const { id } = run.index;
    const guard = run.confirmation.guard;
    const what = guard === undefined ? 'no guard was armed for it' : `its ${guardName(guard)} is gone`;
    ctx.err(
      ctx.render(
        advice`warning: run ${id} awaits confirmation until ${run.confirmation.deadline}, but ${what}: nothing reverts it at its deadline but the next runbook command here that changes the host after then. Keep it: \`${runbookCommand('confirm', id)}\`; guard it again: \`${runbookCommand('confirm', id, '--extend', '5m')}\`; undo it now: \`${runbookCommand('rollback', id)}\``,
      ),
    );
  }
}

function guardName(guard: Guard): string {
  return guard.kind === 'watchdog' ? `watchdog (pid ${guard.pid})` : `systemd timer ${guard.unit}.timer`;
}

function reportDue(ctx: CliContext, due: readonly PendingConfirmation[], command: string): void {
  for (const marker of due) {
    const rollback = ctx.render({ ...runbookCommand('rollback', marker.runId), asRoot: true });
    ctx.err(
      `warning: run ${marker.runId} was not confirmed by ${new Date(marker.deadline).toISOString()} and awaits its automatic revert: ` +
        `its guard does it; if the guard is gone, \`${rollback}\` does (as does any run, resume, rollback, confirm or prune here). ` +
        `\`runbook ${command}\` only reads: it reverts nothing, and what it shows is the host and the runs before that revert`,
    );
  }
}

async function revert(ctx: CliContext, store: RunStore, due: readonly PendingConfirmation[]): Promise<void> {
  for (const marker of due) {
    ctx.err(`run ${marker.runId} was not confirmed by ${marker.deadline}: reverting it first (automatic revert)`);
  }
  const [
    { requireNetAdmin },
    { revertDueRuns },
    { createExecaHostExecutor },
    { withInterruptSignal },
    { formatUndoLine },
  ] = await Promise.all([
    import('../host/privileges.js'),
    import('../engine/confirm-within/revert-due.js'),
    import('../host/execa-host-executor.js'),
    import('./signals.js'),
    import('./commands/rollback.js'),
  ]);
  requireNetAdmin(
    'the automatic revert',
    advice`run it as root: ${{ ...runbookCommand('rollback', due[0]?.runId ?? ''), asRoot: true }}`,
  );
  const outcomes = await withInterruptSignal(ctx, (signal) =>
    revertDueRuns({
      store,
      runIds: due.map((m) => m.runId),
      executor: createExecaHostExecutor(),
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
        hint: advice`finish it with: ${runbookCommand('rollback', runId)}`,
      });
    } else {
      const failed = result.steps.find((s) => s.outcome === 'undo-failed');
      throw new RunbookError(
        'step-failed',
        `the automatic revert of run ${runId} stopped at step ${failed?.stepId}: ${failed?.stillHolds}`,
        {
          hint: advice`see its undo commands with \`${runbookCommand('journal', runId)}\`, fix the cause, then \`${runbookCommand('rollback', runId)}\``,
        },
      );
    }
  }
}
