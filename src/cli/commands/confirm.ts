import { confirmRun, type ConfirmResult } from '../../engine/confirm.js';
import { createExecaHostExecutor } from '../../host/execa-host-executor.js';
import { ExitCode } from '../../errors.js';
import { defineCommand } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { flag, type OptionsOf } from '../option-spec.js';
import { jsonLine, logCommand } from '../output.js';
import { afterInterrupt, withInterruptSignal } from '../signals.js';
import { formatUndoLine } from './rollback.js';
import { advice, runbookCommand } from '../../suggestion.js';
import type { Render } from '../render-advice.js';

const confirmOptions = { json: flag('--json', 'print the outcome as JSON') };

export const command = defineCommand({
  name: 'confirm',
  description:
    'keep the change of a run made with --confirm-within: record the confirmation (who, when) and stop its watchdog',
  arguments: [
    {
      name: '[run-id]',
      description: "the run to confirm (default: this host's run awaiting confirmation)",
      complete: 'runs',
    },
  ],
  options: confirmOptions,
  help: `
Confirm from a NEW session (a new ssh connection): that you could open it proves the change did
not cut you off. Confirming twice changes nothing. Once the deadline has passed, the run is
reverted instead and confirm exits 1.`,
  examples: [
    ['sudo runbook confirm', "this host's run awaiting confirmation"],
    ['sudo runbook confirm 20261128T145804', 'a run by id (or a unique prefix of it)'],
    ['sudo runbook --in lab confirm', 'the run awaiting confirmation in sandbox lab'],
  ],
  exitCodes: {
    ok: 'confirmed (now, or already before)',
    stepFailed: 'too late: the run was reverted (not confirmed by its deadline) or rolled back',
    invalidInput: 'no run awaits confirmation here, or the run belongs to another host; nothing was changed',
    interrupted: null,
  },
  stateDir: 'write',
  dueRuns: 'revert',
  action: (ctx, [runId], options) => confirmCommand(ctx, runId, options),
});

/** `runbook confirm [run-id]`: keep the change of a run made with --confirm-within. */
export async function confirmCommand(
  ctx: CliContext,
  runId: string | undefined,
  options: OptionsOf<typeof confirmOptions>,
): Promise<number> {
  const result = await withInterruptSignal(
    ctx,
    (signal) =>
      confirmRun({
        store: ctx.store,
        runId,
        // Only used when the deadline has passed and the run must be reverted instead.
        executor: createExecaHostExecutor(),
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
      ctx.err(
        `run ${result.runId} was not confirmed by its deadline ${result.deadline}: ${revertNews(result, ctx.render)}`,
      );
      ctx.err(
        ctx.render(
          advice`next: if the change is still wanted, run it again: ${runbookCommand('run', '…', '--confirm-within', '…')}`,
        ),
      );
      return ExitCode.stepFailed;
  }
}

/** What became of a run whose deadline passed: reverted before, just now, or half-way. */
function revertNews(result: Extract<ConfirmResult, { kind: 'reverted' }>, render: Render): string {
  if (result.revert === undefined) return `it was reverted automatically at ${result.at}`;
  const { revert } = result;
  if (revert.kind !== 'reverted' || revert.result.kind === 'nothing' || revert.result.status === 'rolled-back')
    return 'it has just been reverted automatically';
  return `its automatic revert ${revert.result.status === 'failed' ? 'failed' : 'was interrupted'}; finish it with \`${render(runbookCommand('rollback', result.runId))}\``;
}

function withoutDetails(result: ConfirmResult): Record<string, unknown> {
  if (result.kind !== 'reverted') return { ...result };
  const { revert: _revert, ...rest } = result;
  return rest;
}
