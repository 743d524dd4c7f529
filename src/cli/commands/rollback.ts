import { rollbackAll } from '../../engine/rollback-all.js';
import { rollbackRun, type RollbackResult } from '../../engine/rollback.js';
import type { UndoReport } from '../../engine/undo-steps.js';
import { createHostExecutor } from '../../host/host-executor.js';
import { exitCodeFor, exitCodes, invalidInput } from '../../errors.js';
import { ownerFinder } from '../run-owners.js';
import { defineCommand } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { flag, option, type OptionsOf } from '../option-spec.js';
import { jsonLine, logCommand } from '../output.js';
import { afterInterrupt, withInterruptSignal } from '../signals.js';
import { advice, runbookCommand } from '../../suggestion.js';

const rollbackOptions = {
  all: flag('--all', 'every run on this host with changes not yet undone, newest first (not with a run id)'),
  runbook: option('--runbook <name>', 'with --all: only the runs of this runbook'),
  force: flag('--force', 'roll back even if later runs built on what this run made (they lose it)'),
  json: flag('--json', 'print machine-readable events'),
};

export const command = defineCommand({
  name: 'rollback',
  description: 'undo, in reverse order, exactly the steps a run changed (never what it found already in place)',
  arguments: [
    {
      name: '[run-id]',
      description: 'the run to roll back (default: the latest run with changes not yet undone)',
      complete: 'runs',
    },
  ],
  options: rollbackOptions,
  help: `
After each undo, the step's own verification must no longer hold; "already gone" counts as
undone. A rollback is journaled: if it is interrupted, run it again to finish; once finished,
running it again changes nothing and exits 0.

Changes stack up and are undone in reverse order. A later run, not rolled back, with changes
of its own, that found in place or made one of the steps this rollback would undo, builds on
this run: a new run that adopted the namespace a crashed run left and built the rest in it,
say. Then rollback refuses (exit 2, nothing changed) and names those runs: roll them back
first, newest first, or pass --force. Two steps are the same when they share an undo command
(ip netns del container1), whatever their runbook or step id.

Whatever made it (a run of another state dir, a person, no runbook at all), what the run did
not make is never deleted, not even with --force: before an undo deletes a namespace, a bridge
or a link, what it holds is read from the kernel (links, ports, addresses, routes, a veth's
other end), and anything the run did not make refuses that step (exit 1, with the evidence and
the runs that made it, where they can be found); the object stays as it is.

--all undoes every run on this host that has changes left, newest first (a run, then the runs
that repaired it), stopping at the first undo that fails. Each run's undo is journaled in that
run's journal; if interrupted, run it again to finish; once finished, it does nothing. With
--runbook, it refuses as above when a run of another runbook builds on the ones it would undo.`,
  examples: [
    ['sudo runbook rollback', 'the latest run here with changes not yet undone'],
    ['sudo runbook rollback 20261128T145804', 'a run by id (or a unique prefix of it)'],
    ['sudo runbook rollback --all --runbook single-container', 'everything single-container did here'],
    ['sudo runbook rollback 20261128T145804 --force', 'even though a later run built on it'],
  ],
  exitCodes: {
    invalidInput:
      'invalid input (bad flag, unknown run), not root, a run of another host, or a later run builds on this one ' +
      '(roll it back first, or --force); nothing was changed',
    stepFailed:
      'an undo left its effect in place, or was refused because what it would delete holds what the run did not make (the message names the step)',
    interrupted: `${exitCodes.interrupted.meaning}; run \`runbook rollback\` again to finish`,
  },
  stateDir: 'write',
  needsRoot: 'net-admin',
  dueRuns: 'revert',
  action: (ctx, [runId], options) => rollbackCommand(ctx, runId, options),
});

/** `runbook rollback [run-id]`: undo, in reverse order, exactly what a run changed. */
export async function rollbackCommand(
  ctx: CliContext,
  runId: string | undefined,
  options: OptionsOf<typeof rollbackOptions>,
): Promise<number> {
  if (options.all && runId !== undefined)
    throw invalidInput(
      `rollback: give a run id or --all, not both; nothing was changed`,
      advice`one run: ${runbookCommand('rollback', 'ID')}; every run on this host with changes left: ${runbookCommand('rollback', '--all')}`,
    );
  if (options.runbook !== undefined && !options.all)
    throw invalidInput(
      `rollback: --runbook ${options.runbook} selects runs for --all; nothing was changed`,
      advice`every run of it on this host: ${runbookCommand('rollback', '--all', '--runbook', options.runbook)}`,
    );
  if (options.all) return rollbackAllCommand(ctx, options.runbook, options.json === true, options.force === true);
  const result = await withInterruptSignal(
    ctx,
    (signal) =>
      rollbackRun({
        store: ctx.store,
        runId,
        executor: createHostExecutor(),
        signal,
        force: options.force === true,
        findOwners: ownerFinder(ctx.store),
        onUndo: (report) => ctx.out(options.json ? jsonLine({ event: 'undo', ...report }) : formatUndoLine(report)),
        onCommand: logCommand(ctx),
        onNote: (note) => ctx.err(`note: ${note}`),
      }),
    afterInterrupt.rollback,
  );
  return reportRollback(ctx, result, options.json === true);
}

/** Prints how a rollback ended and returns the exit code (shared with run --rollback-on-failure). */
export function reportRollback(ctx: CliContext, result: RollbackResult, json: boolean): number {
  if (result.kind === 'nothing') {
    ctx.out(json ? jsonLine({ event: 'nothing', message: result.message }) : result.message);
    return exitCodeFor('ok');
  }
  if (json) {
    ctx.out(
      jsonLine({
        event: 'rollback-end',
        runId: result.runId,
        status: result.status,
        planned: result.planned,
        undone: result.steps.filter((s) => s.outcome === 'undone').map((s) => s.stepId),
        notUndoable: result.steps.filter((s) => s.outcome === 'not-undoable').map((s) => s.stepId),
        failedStep: result.steps.find((s) => s.outcome === 'undo-failed')?.stepId,
        message: result.steps.find((s) => s.outcome === 'undo-failed')?.stillHolds,
      }),
    );
  } else if (result.status === 'rolled-back') {
    ctx.out(
      `run ${result.runId} rolled back: ${result.steps.filter((s) => s.outcome === 'undone').length} step(s) undone${result.steps.length === 0 ? ' (it had changed nothing)' : ''}${notUndoable(result.steps)}`,
    );
  } else if (result.status === 'interrupted') {
    ctx.out(
      `rollback of run ${result.runId} interrupted at a safe point; finish it with \`${ctx.render(runbookCommand('rollback', result.runId))}\``,
    );
  } else {
    const failed = result.steps.find((s) => s.outcome === 'undo-failed');
    const undone = new Set(result.steps.filter((s) => s.outcome === 'undone').map((s) => s.stepId));
    const left = result.planned.filter((id) => !undone.has(id));
    ctx.err(`rollback of run ${result.runId} stopped at step ${failed?.stepId}: ${failed?.stillHolds}`);
    ctx.err(`left in place, not undone: ${left.join(', ')}`);
    ctx.err(
      failed?.refused === true
        ? `next: roll back the runs named (in their own state dir), or remove what they made if nobody needs it, then \`${ctx.render(runbookCommand('rollback', result.runId))}\` again`
        : `next: see what its undo commands said with \`${ctx.render(runbookCommand('journal', result.runId))}\`, fix it, then \`${ctx.render(runbookCommand('rollback', result.runId))}\` again`,
    );
  }
  return exitCodeFor(result.status);
}

export function formatUndoLine(report: UndoReport): string {
  if (report.outcome === 'not-undoable')
    return `  ${report.outcome.padEnd(12)} ${report.stepId}  (left as it is: ${report.stillHolds})`;
  const note = report.notThere ? '  (its cut-off command had not taken effect: not there, nothing to undo)' : '';
  return `  ${(report.refused ? 'refused' : report.outcome).padEnd(11)} ${report.stepId}  (${report.durationMs} ms)${note}`;
}

/** ", 1 step not undoable (flush-neighbours)" when the runbook declared some `undo: none`. */
function notUndoable(steps: readonly UndoReport[]): string {
  const ids = steps.filter((s) => s.outcome === 'not-undoable').map((s) => s.stepId);
  return ids.length === 0 ? '' : `; ${ids.length} step(s) not undoable, left as they are: ${ids.join(', ')}`;
}

/**
 * `runbook rollback --all [--runbook NAME]`: every run on this host with changes left, newest
 * first (src/engine/rollback-all.ts). One block per run, as `rollback ID` prints it.
 */
async function rollbackAllCommand(
  ctx: CliContext,
  runbook: string | undefined,
  json: boolean,
  force: boolean,
): Promise<number> {
  const result = await withInterruptSignal(
    ctx,
    (signal) =>
      rollbackAll({
        store: ctx.store,
        runbook,
        force,
        executor: createHostExecutor(),
        findOwners: ownerFinder(ctx.store),
        signal,
        onRun: (run, position, total) => {
          if (!json) ctx.out(`rollback of run ${run.id} (${run.runbook}), ${position} of ${total}, newest first`);
        },
        onUndo: (runId, report) =>
          ctx.out(json ? jsonLine({ event: 'undo', runId, ...report }) : formatUndoLine(report)),
        onCommand: logCommand(ctx),
        onNote: (note) => ctx.err(`note: ${note}`),
      }),
    afterInterrupt.rollback,
  );
  if (result.kind === 'nothing') {
    ctx.out(json ? jsonLine({ event: 'nothing', message: result.message }) : result.message);
    return exitCodeFor('ok');
  }
  const undone = result.runs.reduce((n, run) => n + run.steps.filter((s) => s.outcome === 'undone').length, 0);
  const last = result.runs.at(-1);
  const failed = last?.steps.find((s) => s.outcome === 'undo-failed');
  if (json) {
    ctx.out(
      jsonLine({
        event: 'rollback-all-end',
        status: result.status,
        runbook,
        undone,
        runs: result.runs.map((run) => ({
          runId: run.runId,
          runbook: run.runbook,
          status: run.status,
          undone: run.steps.filter((s) => s.outcome === 'undone').map((s) => s.stepId),
          notUndoable: run.steps.filter((s) => s.outcome === 'not-undoable').map((s) => s.stepId),
        })),
        failedRun: result.status === 'failed' ? last?.runId : undefined,
        failedStep: failed?.stepId,
        message: failed?.stillHolds,
      }),
    );
  } else if (result.status === 'rolled-back') {
    ctx.out(
      `rolled back ${result.runs.length} run(s), newest first: ${undone} step(s) undone${notUndoable(result.runs.flatMap((run) => run.steps))}`,
    );
  } else if (result.status === 'interrupted') {
    ctx.out(
      `rollback --all interrupted at a safe point in run ${last?.runId}; finish it with \`${ctx.render(runbookCommand('rollback', '--all'))}\``,
    );
  } else {
    ctx.err(`rollback --all stopped in run ${last?.runId} at step ${failed?.stepId}: ${failed?.stillHolds}`);
    ctx.err(
      `next: see what its undo commands said with \`${ctx.render(runbookCommand('journal', last?.runId ?? '?'))}\`, fix it, then \`${ctx.render(runbookCommand('rollback', '--all'))}\` again (the older runs are still to undo)`,
    );
  }
  return exitCodeFor(result.status);
}
