import { resumeRun } from '../../engine/resume.js';
import { createHostExecutor } from '../../exec/host-executor.js';
import { exitCodeFor } from '../../errors.js';
import { requireNetAdmin } from '../../host/privileges.js';
import { forUser } from '../../host/user-command.js';
import type { CliContext } from '../context.js';
import { formatFailure, formatStepLine, jsonLine, logCommand } from '../output.js';
import { runEndJson } from '../json-results.js';
import { withInterruptSignal } from '../signals.js';
import { runbookHashNow } from '../../runbook/load.js';

/** `runbook resume [run-id]`: continue an interrupted, failed or stopped run from its journal. */
export async function resumeCommand(
  ctx: CliContext,
  runId: string | undefined,
  options: { force?: boolean; json?: boolean; until?: string },
): Promise<number> {
  requireNetAdmin('runbook resume');
  const result = await withInterruptSignal(ctx, (signal) =>
    resumeRun({
      store: ctx.store,
      runId,
      executor: createHostExecutor(),
      force: options.force,
      stopAfter: options.until,
      signal,
      onStep: (report) => ctx.out(options.json ? jsonLine({ event: 'step', ...report }) : formatStepLine(report)),
      onCommand: logCommand(ctx),
      onNote: (note) => ctx.err(`note: ${note}`),
      currentRunbookHash: runbookHashNow,
    }),
  );
  if (result.kind === 'nothing') {
    ctx.out(options.json ? jsonLine({ event: 'nothing', message: result.message }) : result.message);
    return exitCodeFor('ok');
  }
  if (options.json) {
    ctx.out(jsonLine({ ...runEndJson(result.runId, result.runbook, result), resumed: true }));
  } else if (result.status === 'failed' && result.failure !== undefined) {
    for (const line of formatFailure(result.failure, result.runId)) ctx.err(line);
  } else if (result.status === 'stopped') {
    const resume = forUser(`runbook resume ${result.runId}`);
    ctx.out(`run ${result.runId} stopped after step ${options.until} as asked (--until); continue with \`${resume}\``);
  } else {
    ctx.out(`run ${result.runId} ${result.status === 'succeeded' ? 'resumed and succeeded' : result.status}`);
  }
  return exitCodeFor(result.status);
}
