import { confirmRun, type ConfirmResult } from '../../engine/confirm-within/confirm.js';
import { extendDeadline, type ExtendResult } from '../../engine/confirm-within/extend.js';
import { describeGuard } from '../../engine/confirm-within/guard.js';
import { createExecaHostExecutor } from '../../host/execa-host-executor.js';
import { ExitCode, invalidInput } from '../../errors.js';
import { defineCommand } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { formatDuration, parseDuration } from '../duration.js';
import { flag, option, type OptionsOf } from '../option-spec.js';
import { jsonLine, logCommand } from '../output.js';
import { revertLaunch } from '../revert-launch.js';
import { afterInterrupt, withInterruptSignal } from '../signals.js';
import { formatUndoLine } from './rollback.js';
import { advice, runbookCommand } from '../../suggestion.js';
import type { Render } from '../render-advice.js';

const confirmOptions = {
  runbook: option('--runbook <name>', 'every run of this runbook awaiting confirmation here', { complete: 'runbooks' }),
  extend: option(
    '--extend <duration>',
    'move the deadline to DURATION from now (90, 30s, 5m, 1h) instead of confirming',
  ),
  json: flag('--json', 'print the outcome as JSON'),
};

export const command = defineCommand({
  name: 'confirm',
  description:
    'keep the change of the runs made with --confirm-within that await here (naming each), or move their deadline (--extend)',
  arguments: [
    {
      name: '[run-id]',
      description:
        'a run: it and every run of its runbook awaiting confirmation here (default: every run awaiting here)',
      complete: 'runs',
    },
  ],
  options: confirmOptions,
  help: `
Confirm from a NEW session (a new ssh connection): that you could open it proves the change did
not cut you off. Confirming twice changes nothing (exit 0), and so does confirm when no run awaits
here. Once the deadline has passed, the run is reverted instead and confirm exits 1.

Confirm goes by runbook, not by recency: a run made with --confirm-within while runs of the same
runbook await confirmation here joins them (one deadline, the later of theirs and its own), and
confirming any of them keeps them all, naming each run and how many changed steps it keeps. So
a re-apply that changed nothing never leaves the run that made the changes to be reverted.

--extend moves the deadline of the same runs (later or earlier, as asked) and re-arms what
reverts them; it also re-arms a watchdog that was killed.`,
  examples: [
    ['sudo runbook confirm', 'every run awaiting confirmation here'],
    ['sudo runbook confirm 20261128T145804', "a run by id (or a unique prefix of it), and its runbook's"],
    ['sudo runbook confirm --runbook single-container', 'the runs of that runbook awaiting confirmation'],
    ['sudo runbook confirm --extend 10m', '10 more minutes to confirm'],
    ['sudo runbook --in lab confirm', 'the runs awaiting confirmation in sandbox lab'],
  ],
  exitCodes: {
    ok: 'confirmed (now, or already before), or the deadline moved; or, with no run id, no run awaits confirmation here (nothing to do)',
    stepFailed: 'too late: the run (asked for, or the latest made with --confirm-within) was reverted or rolled back',
    invalidInput:
      'the run was made without --confirm-within, or awaits on another host, or (--extend) was confirmed already: it has no deadline to move; nothing was changed',
    interrupted: null,
  },
  stateDir: 'write',
  dueRuns: 'revert',
  action: (ctx, [runId], options) => confirmCommand(ctx, runId, options),
});

/**
 * `runbook confirm [run-id]`: keep the change of the runs made with --confirm-within that await
 * here (those of the run's runbook, or of --runbook, or all), naming each; with --extend, move
 * their deadline instead.
 */
export async function confirmCommand(
  ctx: CliContext,
  runId: string | undefined,
  options: OptionsOf<typeof confirmOptions>,
): Promise<number> {
  if (runId !== undefined && options.runbook !== undefined)
    throw invalidInput(
      'give a run id or --runbook, not both: a run id already names its runbook',
      advice`${runbookCommand('confirm', 'RUN-ID')}`,
    );
  if (options.extend !== undefined)
    return extendCommand(ctx, runId, options, parseDuration('--extend', options.extend));
  const result = await withInterruptSignal(
    ctx,
    (signal) =>
      confirmRun({
        store: ctx.store,
        runId,
        runbook: options.runbook,
        // Only used when the deadline has passed and the runs must be reverted instead.
        executor: createExecaHostExecutor(),
        signal,
        onUndo: (report) => ctx.err(formatUndoLine(report)),
        onCommand: logCommand(ctx),
        onNote: (note) => ctx.err(`note: ${note}`),
      }),
    afterInterrupt.confirm,
  );
  if (options.json) ctx.out(jsonLine({ event: 'confirm', ...confirmJson(result) }));
  switch (result.kind) {
    case 'nothing':
      if (!options.json) ctx.out(result.message);
      return ExitCode.ok;
    case 'confirmed':
      if (!options.json) {
        const withChanges = result.runs.filter((r) => r.changesInEffect > 0).map((r) => r.runId);
        for (const run of result.runs) {
          const kept =
            run.changesInEffect > 0
              ? `the change stays (${run.changesInEffect} changed step(s) kept)`
              : `it changed nothing${withChanges.length > 0 ? `; kept with run ${withChanges.join(', ')}` : ''}`;
          const stopped =
            run.guardStopped && run.guard !== undefined
              ? `; its ${run.guard.kind === 'timer' ? 'systemd timer' : 'watchdog'} was stopped`
              : '';
          ctx.out(`run ${run.runId} confirmed before its deadline ${run.deadline}: ${kept}${stopped}`);
        }
      }
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

/** `runbook confirm --extend DURATION`: the deadline moves to DURATION from now, guards re-armed. */
async function extendCommand(
  ctx: CliContext,
  runId: string | undefined,
  options: OptionsOf<typeof confirmOptions>,
  withinMs: number,
): Promise<number> {
  const result: ExtendResult = await extendDeadline({
    store: ctx.store,
    runId,
    runbook: options.runbook,
    withinMs,
    launch: revertLaunch(ctx.store),
    onNote: (note) => ctx.err(`note: ${note}`),
  });
  if (options.json) {
    ctx.out(
      jsonLine(
        result.kind === 'extended'
          ? { event: 'extend', kind: 'extended', runs: result.runs }
          : { event: 'extend', kind: 'nothing', message: result.message },
      ),
    );
  }
  // A run asked for that does not await was refused (thrown): settled runs have no deadline to move.
  if (result.kind === 'nothing') {
    if (!options.json) ctx.out(result.message);
    return ExitCode.ok;
  }
  if (!options.json) {
    const [first] = result.runs;
    ctx.out(
      `deadline moved to ${first?.deadline} (${formatDuration(withinMs)} from now): unless confirmed by then, these runs are rolled back automatically:`,
    );
    for (const run of result.runs)
      ctx.out(`  run ${run.runId} (${run.runbook}), was due ${run.previous}; ${describeGuard(run.guard)}`);
  }
  return ExitCode.ok;
}

/** What became of a run whose deadline passed: reverted before, just now, or half-way. */
function revertNews(result: Extract<ConfirmResult, { kind: 'reverted' }>, render: Render): string {
  if (result.revert === undefined) return `it was reverted automatically at ${result.at}`;
  const { revert } = result;
  if (revert.kind !== 'reverted' || revert.result.kind === 'nothing' || revert.result.status === 'rolled-back')
    return 'it has just been reverted automatically';
  return `its automatic revert ${revert.result.status === 'failed' ? 'failed' : 'was interrupted'}; finish it with \`${render(runbookCommand('rollback', result.runId))}\``;
}

/**
 * The `--json` event. `runId` and `deadline` of a confirmation are the newest run's kept (the
 * module and scripts of issue 15 read them); `runs` names every run kept.
 */
function confirmJson(result: ConfirmResult): Record<string, unknown> {
  if (result.kind === 'confirmed') {
    const newest = result.runs.at(-1);
    return { kind: result.kind, runId: newest?.runId, deadline: newest?.deadline, runs: result.runs };
  }
  if (result.kind !== 'reverted') return { ...result };
  const { revert: _revert, ...rest } = result;
  return rest;
}
