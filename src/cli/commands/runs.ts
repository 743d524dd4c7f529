import { hasChangesLeft } from '../../engine/changes-left.js';
import { isOneShotRun, isThisHost } from '../../host/binding.js';
import { ExitCode } from '../../errors.js';
import type { RunIndex, RunStore } from '../../store/run-store.js';
import { defineCommand } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { flag, type OptionsOf } from '../option-spec.js';
import type { Render } from '../render-advice.js';
import { runbookCommand } from '../../suggestion.js';

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

/** What reverts an awaiting run at its deadline, and whether it is still there (issue 24). */
interface GuardState {
  kind: 'watchdog' | 'timer';
  pid?: number | undefined;
  unit?: string | undefined;
  alive: boolean;
}

/** The guard of each run awaiting confirmation on this host (journals read only when some await). */
async function guardsOf(store: RunStore): Promise<Map<string, GuardState | null>> {
  const guards = new Map<string, GuardState | null>();
  if (store.pendingConfirmations().length === 0) return guards;
  const [{ awaitingHere }, { isGuardAlive }] = await Promise.all([
    import('../../engine/confirm-within/awaiting.js'),
    import('../../engine/confirm-within/guard.js'),
  ]);
  for (const run of awaitingHere(store)) {
    const { guard } = run.confirmation;
    guards.set(
      run.index.id,
      guard === undefined
        ? null
        : {
            kind: guard.kind,
            pid: guard.kind === 'watchdog' ? guard.pid : undefined,
            unit: guard.kind === 'timer' ? guard.unit : undefined,
            alive: await isGuardAlive(guard),
          },
    );
  }
  return guards;
}

/** "watchdog pid 123", or what happens now that it is gone. */
function guardNote(run: RunIndex, guard: GuardState | null | undefined, render: Render): string {
  if (guard === undefined) return '';
  const name =
    guard === null
      ? 'no guard'
      : guard.kind === 'timer'
        ? `systemd timer ${guard.unit}.timer`
        : `watchdog pid ${guard.pid}`;
  if (guard?.alive) return `; ${name} reverts it then`;
  const gone = guard === null ? 'no guard was armed' : `${name} is GONE`;
  return `; ${gone}: the next run, resume, rollback, confirm or prune here after the deadline reverts it (\`${render(runbookCommand('confirm', run.id, '--extend', '5m'))}\` guards it again)`;
}

const leftUnfinished: ReadonlySet<RunIndex['status']> = new Set(['running', 'interrupted', 'failed', 'stopped']);

/** `runbook runs`: every run in the state dir, oldest first. */
export async function runsCommand(ctx: CliContext, options: OptionsOf<typeof runsOptions>): Promise<number> {
  const { store } = ctx;
  // Each journal is read and its hash chain checked: a damaged one shows as `damaged`.
  const runs = store.listRunsVerified();
  const guards = await guardsOf(store);
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
          // For a run awaiting confirmation here: what reverts it at its deadline, and whether
          // it is still there (a watchdog killed: `alive: false`; null: none was armed).
          guard: guards.get(run.id),
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
    const deadline =
      run.status === 'awaiting-confirmation'
        ? `  (confirm by ${run.confirmBy}${guardNote(run, guards.get(run.id), ctx.render)})`
        : '';
    // A --sandbox run that stopped is not for resume or rollback: its host went with it (issue 26).
    const gone = isOneShotRun(run.host) && leftUnfinished.has(run.status) ? '  (--sandbox: its host is gone)' : '';
    ctx.out(
      `${run.id.padEnd(idWidth)} ${run.runbook.padEnd(runbookWidth)} ${run.status.padEnd(statusWidth)} ${run.started.padEnd(24)} ${run.finished ?? '-'}${deadline}${gone}`,
    );
  }
  return ExitCode.ok;
}
