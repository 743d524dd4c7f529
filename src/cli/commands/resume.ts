import { resumeRun } from '../../engine/resume.js';
import { createHostExecutor } from '../../host/host-executor.js';
import { exitCodeFor } from '../../errors.js';
import { runbookCommand } from '../../suggestion.js';
import { defineCommand, runExitCodes } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { flag, option, type OptionsOf } from '../option-spec.js';
import { formatFailure, formatStepLine, jsonLine, logCommand } from '../output.js';
import { runEndJson } from '../json-results.js';
import { withInterruptSignal } from '../signals.js';
import { runbookHashNow } from '../../runbook/load.js';
import { formatUndoLine } from './rollback.js';
import { ownerFinder } from '../run-owners.js';
import { formatReplaceStopped, replacedJson } from './replace-output.js';

const resumeOptions = {
  force: flag(
    '--force',
    'resume even though the runbook file changed since the run started (the recorded text is used)',
  ),
  until: option(
    '--until <step-id>',
    'stop again after this step (the next stage of the tutorial); resume again to go on',
    {
      complete: 'steps',
    },
  ),
  json: flag('--json', 'print machine-readable events'),
};

export const command = defineCommand({
  name: 'resume',
  description:
    'continue an interrupted, failed or --until-stopped run from its journal: finished steps are not run again',
  arguments: [
    {
      name: '[run-id]',
      description: 'the run to resume (default: the latest interrupted, failed or stopped run)',
      complete: 'runs',
    },
  ],
  options: resumeOptions,
  help: `
The step that was in progress when the run stopped is checked first: a command whose result
never reached the journal may or may not have taken effect. Parameters and runbook text are the
ones recorded when the run started.`,
  examples: [
    ['sudo runbook resume', 'the latest interrupted, failed or stopped run here'],
    ['sudo runbook resume 20261128T145804', 'a run by id (or a unique prefix of it)'],
    ['sudo runbook resume --until host-route', 'go on to the next stage only, in the same run'],
  ],
  exitCodes: runExitCodes,
  stateDir: 'write',
  needsRoot: 'net-admin',
  dueRuns: 'revert',
  action: (ctx, [runId], options) => resumeCommand(ctx, runId, options),
});

/** `runbook resume [run-id]`: continue an interrupted, failed or stopped run from its journal. */
export async function resumeCommand(
  ctx: CliContext,
  runId: string | undefined,
  options: OptionsOf<typeof resumeOptions>,
): Promise<number> {
  const result = await withInterruptSignal(ctx, (signal) =>
    resumeRun({
      store: ctx.store,
      runId,
      executor: createHostExecutor(),
      force: options.force,
      stopAfter: options.until,
      signal,
      onStep: (report) => ctx.out(options.json ? jsonLine({ event: 'step', ...report }) : formatStepLine(report)),
      onReplaceUndo: (undoneRunId, report) =>
        ctx.out(
          options.json ? jsonLine({ event: 'replace-undo', runId: undoneRunId, ...report }) : formatUndoLine(report),
        ),
      onCommand: logCommand(ctx),
      onNote: (note) => ctx.err(`note: ${note}`),
      findOwners: ownerFinder(ctx.store),
      currentRunbookHash: runbookHashNow,
    }),
  );
  if (result.kind === 'nothing') {
    ctx.out(options.json ? jsonLine({ event: 'nothing', message: result.message }) : result.message);
    return exitCodeFor('ok');
  }
  if (options.json) {
    ctx.out(
      jsonLine({
        ...runEndJson(result.runId, result.runbook, result),
        resumed: true,
        replaced: replacedJson(result.replaced),
      }),
    );
  } else if (result.status === 'failed' && result.failure !== undefined) {
    for (const line of formatFailure(result.failure, result.runId, ctx.render)) ctx.err(line);
  } else if (result.replaced !== undefined && result.replaced.status !== 'replaced') {
    for (const line of formatReplaceStopped(result.runId, result.replaced, 'resume-or-rollback', ctx.render))
      ctx.err(line);
  } else if (result.status === 'stopped') {
    const resume = ctx.render(runbookCommand('resume', result.runId));
    ctx.out(`run ${result.runId} stopped after step ${options.until} as asked (--until); continue with \`${resume}\``);
  } else {
    ctx.out(`run ${result.runId} ${result.status === 'succeeded' ? 'resumed and succeeded' : result.status}`);
  }
  return exitCodeFor(result.status);
}
