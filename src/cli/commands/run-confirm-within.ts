import type { Provisional } from '../../engine/confirm-within/arm.js';
import { describeGuard } from '../../engine/confirm-within/guard.js';
import { ExitCode, invalidInput } from '../../errors.js';
import { advice, runbookCommand } from '../../suggestion.js';
import type { CliContext } from '../context.js';
import { formatDuration, parseDuration } from '../duration.js';
import { jsonLine } from '../output.js';
import { reportRollback } from './rollback.js';

/**
 * `run --confirm-within DURATION` (issue 15): the flag's checks, and what the run prints when it
 * is left awaiting confirmation.
 */

/** The window in ms, or undefined without the flag; exit 2 (nothing run) for what cannot work. */
export function validateConfirmWithin(options: {
  confirmWithin?: string;
  sandbox?: boolean;
  until?: string;
}): number | undefined {
  if (options.confirmWithin === undefined) return undefined;
  const ms = parseDuration('--confirm-within', options.confirmWithin);
  if (options.sandbox) {
    throw invalidInput(
      '--confirm-within cannot be used with --sandbox: that sandbox host vanishes when the command ends, so there would be nothing left to confirm or revert; nothing was changed',
      advice`use a sandbox host that stays: ${runbookCommand('sandbox', 'create', 'lab')}; ${runbookCommand('--in', 'lab', 'run', 'NAME', '--confirm-within', '30s')}`,
    );
  }
  if (options.until !== undefined) {
    throw invalidInput(
      '--confirm-within cannot be used with --until: a stopped run is continued with resume, which has no deadline; nothing was changed',
      'run the whole runbook with --confirm-within, or stop with --until and confirm by hand',
    );
  }
  return ms;
}

/** Prints the deadline and the command that confirms; exit 0 (or 1 if it could not be left provisional). */
export function reportProvisional(ctx: CliContext, runId: string, provisional: Provisional, json: boolean): number {
  if (provisional.kind === 'not-armed') {
    ctx.err(`run ${runId}: ${provisional.error}; so its change was not left in place unguarded`);
    if (!json) ctx.err('the automatic revert of what it changed is above, in reverse order');
    const rollbackExit = reportRollback(ctx, provisional.rollback, json);
    return rollbackExit === ExitCode.interrupted ? ExitCode.interrupted : ExitCode.stepFailed;
  }
  // Typed in a new session, which may lack this one's $RUNBOOK_STATE_DIR, and is outside any
  // sandbox this one is in: the renderer names the state dir and the sandbox.
  const confirm = ctx.render({ ...runbookCommand('confirm', runId), newSession: true });
  const { guard, joined } = provisional;
  if (json) {
    ctx.out(
      jsonLine({
        event: 'awaiting-confirmation',
        runId,
        deadline: provisional.deadline,
        guard,
        watchdogPid: guard.kind === 'watchdog' ? guard.pid : undefined,
        joined: joined.map((j) => ({
          runId: j.runId,
          changesInEffect: j.changesInEffect,
          previousDeadline: j.previous,
        })),
        confirm,
      }),
    );
    return ExitCode.ok;
  }
  const left = formatDuration(Date.parse(provisional.deadline) - Date.now());
  ctx.out(
    `awaiting confirmation until ${provisional.deadline} (${left} from now): unless confirmed by then, run ${runId} is rolled back automatically (${describeGuard(guard)})`,
  );
  for (const run of joined) {
    const deadline =
      run.previous === provisional.deadline
        ? 'its deadline is the same'
        : `its deadline ${run.previous} moved to this one`;
    ctx.out(
      `  it joined run ${run.runId} (${run.changesInEffect} changed step(s) in effect), which awaited confirmation: ${deadline}; confirming keeps both, an expired deadline reverts both (newest first)`,
    );
  }
  ctx.out('confirm from a new session, once you know you can still reach this host:');
  ctx.out(`  ${confirm}`);
  return ExitCode.ok;
}
