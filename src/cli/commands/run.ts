import { createExecaExecutor } from '../../exec/execa-executor.js';
import { runRunbook } from '../../engine/run.js';
import { ExitCode } from '../../errors.js';
import { currentHost } from '../../host/identity.js';
import { requireNetAdmin } from '../../host/privileges.js';
import { prepareRunbook } from '../../runbook/prepare.js';
import { isInsideOneShotSandbox, reexecInOneShotSandbox, setUpTutorialHost } from '../../sandbox/one-shot.js';
import { showTutorialView } from '../../sandbox/tutorial-view.js';
import { reachesOutsideSandbox, sandboxIsolation } from '../../sandbox/reach.js';
import type { CliContext } from '../context.js';
import { formatFailure, formatStepLine, jsonLine, logCommand, exitCodeForRun } from '../output.js';
import { withInterruptSignal } from '../signals.js';
import { formatUndoLine, reportRollback } from './rollback.js';

export interface RunOptions {
  set: string[];
  sandbox?: boolean;
  json?: boolean;
  until?: string;
  rollbackOnFailure?: boolean;
}

/** `runbook run <runbook>`: validate, then run every step (in a sandbox host with --sandbox). */
export async function runCommand(
  ctx: CliContext,
  runbookName: string,
  options: RunOptions,
  rawArgs: readonly string[],
): Promise<number> {
  // Exit 2 here leaves the host untouched. Inside a sandbox host, parameters may have sandbox
  // defaults (e.g. the stand-in internet address instead of a real one).
  const inSandbox = options.sandbox === true || currentHost().sandbox !== undefined;
  const prepared = prepareRunbook(runbookName, options.set, { inSandbox });

  if (options.sandbox && !isInsideOneShotSandbox()) {
    return reexecInOneShotSandbox(rawArgs);
  }
  const executor = createExecaExecutor();
  if (isInsideOneShotSandbox()) {
    await setUpTutorialHost(executor);
    if (!options.json) {
      ctx.out('sandbox host ready: uplink enp0s8 10.0.0.10/24, gateway 10.0.0.1 (vanishes when this command ends)');
      ctx.out(`  ${sandboxIsolation}`);
    }
    const reaching = reachesOutsideSandbox(prepared.plan);
    if (reaching.length > 0) {
      ctx.err(`warning: these commands of ${prepared.runbook.spec.name} may reach the real host's files or sysctls:`);
      for (const command of reaching) ctx.err(`  ${command}`);
    }
  }
  requireNetAdmin(`runbook run ${prepared.runbook.spec.name}`);

  if (!options.json) ctx.out(`run ${prepared.runbook.spec.name} (${prepared.plan.steps.length} steps)`);
  const result = await withInterruptSignal(ctx, (signal) =>
    runRunbook({
      runbook: prepared.runbook,
      params: prepared.params,
      stateDir: ctx.stateDir,
      executor,
      stopAfter: options.until,
      signal,
      onStep: (report) => ctx.out(options.json ? jsonLine({ event: 'step', ...report }) : formatStepLine(report)),
      onCommand: logCommand(ctx),
      rollbackOnFailure: options.rollbackOnFailure,
      onUndo: (report) => ctx.out(options.json ? jsonLine({ event: 'undo', ...report }) : formatUndoLine(report)),
      onNote: (note) => ctx.err(`note: ${note}`),
    }),
  );
  const oneShot = isInsideOneShotSandbox();
  const next = result.rollback !== undefined ? 'rolling-back' : oneShot ? 'one-shot-sandbox' : 'resume-or-rollback';

  const changed = result.steps.filter((s) => s.outcome === 'changed').length;
  if (options.json) {
    ctx.out(
      jsonLine({ event: 'run-end', runId: result.runId, status: result.status, changed, failure: result.failure }),
    );
  } else if (result.status === 'failed' && result.failure !== undefined) {
    for (const line of formatFailure(result.failure, result.runId, next)) ctx.err(line);
  } else {
    const summary = {
      succeeded:
        changed === 0
          ? 'succeeded: nothing to change, every step already holds'
          : `succeeded: ${changed} step(s) changed`,
      stopped: `stopped after step ${options.until} as asked (--until)${oneShot ? '' : `; continue with \`runbook resume ${result.runId}\``}`,
      interrupted: `interrupted at a safe point${oneShot ? '' : `; continue with \`runbook resume ${result.runId}\` or undo with \`runbook rollback ${result.runId}\``}`,
      failed: 'failed',
    }[result.status];
    ctx.out(`run ${result.runId} ${summary}`);
  }
  if (result.rollback !== undefined) {
    if (!options.json)
      ctx.err(`--rollback-on-failure: the undo of what run ${result.runId} changed is above, in reverse order`);
    const rollbackExit = reportRollback(ctx, result.rollback, options.json === true);
    return rollbackExit === ExitCode.interrupted ? ExitCode.interrupted : ExitCode.stepFailed;
  }
  if (isInsideOneShotSandbox() && !options.json) await showTutorialView(ctx.out, executor, prepared.params);

  return exitCodeForRun(result.status);
}
