import { confirmRun, type ConfirmResult } from '../../engine/confirm.js';
import { createExecaExecutor } from '../../exec/execa-executor.js';
import { ExitCode } from '../../errors.js';
import type { CliContext } from '../context.js';
import { jsonLine, logCommand } from '../output.js';
import { afterInterrupt, withInterruptSignal } from '../signals.js';
import { formatUndoLine } from './rollback.js';
import { forUser } from '../../host/user-command.js';

/** `runbook confirm [run-id]`: keep the change of a run made with --confirm-within. */
export async function confirmCommand(
  ctx: CliContext,
  runId: string | undefined,
  options: { json?: boolean },
): Promise<number> {
  const result = await withInterruptSignal(
    ctx,
    (signal) =>
      confirmRun({
        store: ctx.store,
        runId,
        // Only used when the deadline has passed and the run must be reverted instead.
        executor: createExecaExecutor(),
        signal,
        onUndo: (report) => ctx.err(formatUndoLine(report)),
        onCommand: logCommand(ctx),
        onNote: (note) => ctx.err(`note: ${note}`),
      }),
    afterInterrupt.confirm,
  );
  if (options.json) ctx.out(jsonLine({ event: 'confirm', ...withoutDetails(result) }));
  switch (result.kind) {
    case 'confirmed':
      if (!options.json)
        ctx.out(
          `run ${result.runId} confirmed before its deadline ${result.deadline}: the change stays${result.watchdogStopped ? '; its watchdog was stopped' : ''}`,
        );
      return ExitCode.ok;
    case 'already-confirmed':
      if (!options.json) ctx.out(`run ${result.runId} was already confirmed (at ${result.at}): nothing to do`);
      return ExitCode.ok;
    case 'rolled-back':
      ctx.err(
        `run ${result.runId} was rolled back (at ${result.at}) before it was confirmed: there is nothing to keep`,
      );
      return ExitCode.stepFailed;
    case 'reverted':
      ctx.err(`run ${result.runId} was not confirmed by its deadline ${result.deadline}: ${revertNews(result)}`);
      ctx.err('next: if the change is still wanted, run it again: runbook run … --confirm-within …');
      return ExitCode.stepFailed;
  }
}

/** What became of a run whose deadline passed: reverted before, just now, or half-way. */
function revertNews(result: Extract<ConfirmResult, { kind: 'reverted' }>): string {
  if (result.revert === undefined) return `it was reverted automatically at ${result.at}`;
  const { revert } = result;
  if (revert.kind !== 'reverted' || revert.result.kind === 'nothing' || revert.result.status === 'rolled-back')
    return 'it has just been reverted automatically';
  return `its automatic revert ${revert.result.status === 'failed' ? 'failed' : 'was interrupted'}; finish it with \`${forUser(`runbook rollback ${result.runId}`)}\``;
}

function withoutDetails(result: ConfirmResult): Record<string, unknown> {
  if (result.kind !== 'reverted') return { ...result };
  const { revert: _revert, ...rest } = result;
  return rest;
}
