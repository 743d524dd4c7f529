import { hasChangesLeft } from '../../engine/changes-left.js';
import { isOneShotRun, isThisHost } from '../../host/binding.js';
import { ExitCode } from '../../errors.js';
import type { RunIndex, RunStore } from '../../store/run-store.js';
import { defineCommand } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { flag, type OptionsOf } from '../option-spec.js';

const runsOptions = { json: flag('--json', 'print JSON') };

export const command = defineCommand({
  name: 'runs',
  description:
    'list recorded runs: id, runbook, status (running, succeeded, failed, interrupted, stopped, rolled-back, awaiting-confirmation, confirmed, reverted, damaged), start and end',
  options: runsOptions,
  stateDir: 'read',
  dueRuns: 'report',
  action: (ctx, _args, options) => runsCommand(ctx, options),
});

/**
 * Whether a rollback would undo anything of the run: never for a one-shot --sandbox run (its
 * host vanished with it); null when its journal cannot be read (a damaged journal must not hide
 * the other runs; `runbook journal ID --verify` says what is wrong).
 */
function changesLeft(store: RunStore, run: RunIndex): boolean | null {
  if (run.status === 'damaged') return null;
  if (isOneShotRun(run.host)) return false;
  try {
    return hasChangesLeft(store, run);
  } catch {
    return null;
  }
}

/** `runbook runs`: every run in the state dir, oldest first. */
export function runsCommand(ctx: CliContext, options: OptionsOf<typeof runsOptions>): number {
  const { store } = ctx;
  // Each journal is read and its hash chain checked: a damaged one shows as `damaged`.
  const runs = store.listRunsVerified();
  for (const run of runs) if (run.status === 'damaged') ctx.err(`note: run ${run.id} is damaged: ${run.damage}`);
  if (options.json) {
    ctx.out(
      JSON.stringify(
        runs.map((run) => ({
          id: run.id,
          runbook: run.runbook,
          status: run.status,
          started: run.started,
          finished: run.finished,
          host: run.host,
          confirmBy: run.confirmBy,
          damage: run.damage,
          // Whether the run was made on the host (network namespace) this command runs on, and
          // whether it has changes a rollback would undo: what fleet audits and the Ansible
          // module ask (docs/json-output.md).
          thisHost: isThisHost(run.host),
          changesLeft: changesLeft(store, run),
        })),
      ),
    );
    return ExitCode.ok;
  }
  if (runs.length === 0) {
    ctx.out(`no runs recorded in ${store.dir}`);
    return ExitCode.ok;
  }
  // Wide enough for every status the runs listed have ("awaiting-confirmation" is the longest).
  const statusWidth = Math.max(12, ...runs.map((r) => r.status.length));
  // Wide enough for every id and runbook name too (the CNI plugin's ids end with a longer tag).
  const idWidth = Math.max(26, ...runs.map((r) => r.id.length));
  const runbookWidth = Math.max(20, ...runs.map((r) => r.runbook.length));
  ctx.out(
    `${'ID'.padEnd(idWidth)} ${'RUNBOOK'.padEnd(runbookWidth)} ${'STATUS'.padEnd(statusWidth)} ${'STARTED'.padEnd(24)} FINISHED`,
  );
  for (const run of runs) {
    // A run awaiting confirmation is reverted at its deadline unless confirmed (issue 15).
    const deadline = run.status === 'awaiting-confirmation' ? `  (confirm by ${run.confirmBy})` : '';
    ctx.out(
      `${run.id.padEnd(idWidth)} ${run.runbook.padEnd(runbookWidth)} ${run.status.padEnd(statusWidth)} ${run.started.padEnd(24)} ${run.finished ?? '-'}${deadline}`,
    );
  }
  return ExitCode.ok;
}
