import type { Executor } from '../exec/types.js';
import { currentHost, currentUser } from '../host/identity.js';
import { newRunId } from '../journal/run-id.js';
import type { RunStore } from '../store/run-store.js';
import type { ReplacedRun } from '../journal/entries.js';
import type { LoadedRunbook } from '../runbook/load.js';
import type { ParamValues } from '../runbook/params.js';
import type { Plan } from '../plan/plan.js';
import type { CommandEvent } from './journaled-command.js';
import type { UndoReport } from './undo-steps.js';
import { rollbackWhileLocked, type RollbackResult } from './rollback.js';
import type { FindOwners } from './foreign-contents.js';
import { acquireChangeLocks } from './recorded-run.js';
import { executeAndRecord, type StepReport, type StepsResult } from './execute-steps.js';
import { engineVersion } from '../version.js';
import { leaveProvisional, type Provisional } from './confirm-within/arm.js';
import type { RevertLaunch } from './confirm-within/guard.js';
import { invalidInput } from '../errors.js';
import { commandsOf, requirePrograms, namedPrograms, installHint } from '../host/preflight.js';
import { assessChanges, changePlanOf, ReplaceNeeded } from './plan-changes.js';
import { PreconditionsRefused } from './preconditions.js';
import { finishReplacing, recordReplaceStopped, undoesAnything, type ReplaceOutcome } from './replace.js';

export interface RunRunbookOptions {
  runbook: LoadedRunbook;
  params: ParamValues;
  /** The plan of `runbook` with `params`, when the caller has it (prepareRunbookCached); else rendered here. */
  plan?: Plan | undefined;
  store: RunStore;
  executor: Executor;
  stopAfter?: string | undefined;
  signal?: AbortSignal | undefined;
  onStep?: ((report: StepReport) => void) | undefined;
  onCommand?: ((event: CommandEvent) => void) | undefined;
  /** Undo what the run changed if a step fails (`run --rollback-on-failure`). */
  rollbackOnFailure?: boolean | undefined;
  onUndo?: ((report: UndoReport) => void) | undefined;
  /**
   * Called once the run is under way: everything validated, the locks taken, its journal
   * started (issue 26: nothing is printed as started before a refusal could still come).
   */
  onStart?: ((runId: string) => void) | undefined;
  /** Operational notes (e.g. a stale lock taken over). */
  onNote?: ((note: string) => void) | undefined;
  /**
   * `--confirm-within`: on success, leave the run provisional for this long (issue 15), its
   * deadline kept by what `revertLaunch` starts (confirm-within/guard.ts).
   */
  confirmWithin?: { ms: number; revertLaunch: RevertLaunch } | undefined;
  /**
   * `--replace` (issue 23): a run of this runbook with other values in effect here is replaced
   * even when that undoes some of its steps; without it, such a run is refused (exit 2).
   */
  replace?: boolean | undefined;
  /** The replace starts (journaled): the runs it replaces, what it undoes and takes over. */
  onReplace?: ((replaces: readonly ReplacedRun[]) => void) | undefined;
  /** Each step of a replaced run undone, before this run's steps. */
  onReplaceUndo?: ((runId: string, report: UndoReport) => void) | undefined;
  /** Names the runs that made what a container to be deleted holds (rollback.ts's findOwners). */
  findOwners?: FindOwners | undefined;
}

export interface RunRunbookResult extends StepsResult {
  runId: string;
  /** Set when the run failed and --rollback-on-failure undid it. */
  rollback: RollbackResult | undefined;
  /** Set when the run succeeded with --confirm-within: its deadline and watchdog. */
  provisional: Provisional | undefined;
  /** Set when the run replaced earlier runs of its runbook (issue 23): how that went. */
  replaced: ReplaceOutcome | undefined;
}

/**
 * What a run can be refused for before anything is done (exit 2, nothing changed): a --until
 * step the runbook does not have, a program not on PATH. runRunbook checks it first; the CLI
 * checks it before it makes a --sandbox host or prints anything (issue 26).
 */
export function validateRunRequest(
  plan: Pick<Plan, 'steps'>,
  runbookName: string,
  stopAfter: string | undefined,
  executor: Executor,
): void {
  if (stopAfter !== undefined && !plan.steps.some((s) => s.id === stopAfter)) {
    throw invalidInput(
      `--until ${stopAfter}: runbook ${runbookName} has no such step; nothing was changed`,
      `its steps: ${plan.steps.map((s) => s.id).join(', ')}`,
    );
  }
  requirePrograms(executor, plan.steps.flatMap(commandsOf), `runbook ${runbookName}`);
}

/**
 * `runbook run`: takes the state dir's lock and the host's, checks before the first change what
 * the run replaces and what would refuse it (issue 23), starts a journal whose first entry pins
 * the runbook text, parameters, user and host, runs every step, and records how the run ended.
 */
export async function runRunbook(options: RunRunbookOptions): Promise<RunRunbookResult> {
  const { runbook, store } = options;
  const plan = await planOf(options);
  const lock = await acquireChangeLocks(store, `run ${runbook.spec.name}`, options.executor);
  try {
    if (lock.takeoverNote !== undefined) options.onNote?.(lock.takeoverNote);
    const replaces = await assessBeforeRun(options, plan);
    return await runLocked(options, plan, replaces);
  } finally {
    lock.release();
  }
}

/**
 * The run itself, for a caller that holds the state dir's lock and the host's already (the CNI
 * plugin, src/cni/, which waits for them and does more under them than one run). It replaces
 * nothing: the plugin decides itself which of its runs stand (src/cni/add.ts).
 */
export async function runWhileLocked(
  options: RunRunbookOptions & { runId?: string | undefined },
): Promise<RunRunbookResult> {
  return runLocked(options, await planOf(options), undefined);
}

/**
 * Before the first change, under the locks (issue 23): what this run replaces, and every
 * precondition about the host as found that would refuse it, all named at once. Throws the
 * refusal, having changed and recorded nothing (so the CLI has printed no header either).
 */
async function assessBeforeRun(options: RunRunbookOptions, plan: Plan): Promise<readonly ReplacedRun[] | undefined> {
  const name = options.runbook.spec.name;
  const assessed = await assessChanges({
    store: options.store,
    runbook: name,
    plan,
    executor: options.executor,
    signal: options.signal,
    onCommand: options.onCommand,
    onNote: options.onNote,
  });
  if (undoesAnything(assessed.replacement) && options.replace !== true)
    throw new ReplaceNeeded(changePlanOf(plan, assessed));
  if (assessed.replaces !== undefined && options.confirmWithin !== undefined)
    throw invalidInput(
      `--confirm-within: this run replaces run ${assessed.replaces.map((r) => r.runId).join(', ')} of ${name} ` +
        `(other values), and a revert could not bring the earlier values back; nothing was changed`,
      'run it without --confirm-within (a rollback afterwards leaves the host as before the first run)',
    );
  if (assessed.failures.length > 0)
    throw new PreconditionsRefused(
      `runbook ${name}`,
      assessed.failures,
      namedPrograms(assessed.missing),
      assessed.missing.length > 0 ? installHint(assessed.missing) : undefined,
    );
  if (assessed.blocked !== undefined) throw assessed.blocked;
  return assessed.replaces;
}

async function runLocked(
  options: RunRunbookOptions & { runId?: string | undefined },
  plan: Plan,
  replaces: readonly ReplacedRun[] | undefined,
): Promise<RunRunbookResult> {
  const { runbook, params, store } = options;
  const runId = options.runId ?? newRunId();
  const host = currentHost();
  const journal = store.startRun({
    type: 'run-start',
    runId,
    runbook: runbook.spec.name,
    runbookFile: runbook.file,
    runbookHash: runbook.hash,
    runbookSource: runbook.source,
    runbookIncludes: runbook.includes,
    params: { ...params },
    plan,
    user: currentUser(),
    host,
    engineVersion,
    stopAfter: options.stopAfter,
    replaces,
  });
  options.onStart?.(runId);
  try {
    let replaced: ReplaceOutcome | undefined;
    if (replaces !== undefined) {
      options.onReplace?.(replaces);
      replaced = await finishReplacing({
        store,
        runId,
        journal,
        replaces,
        executor: options.executor,
        signal: options.signal,
        onUndo: options.onReplaceUndo,
        onCommand: options.onCommand,
        onNote: options.onNote,
        findOwners: options.findOwners,
      });
    }
    const result =
      replaced !== undefined && replaced.status !== 'replaced'
        ? recordReplaceStopped(journal, replaced)
        : await executeAndRecord(journal, {
            plan,
            executor: options.executor,
            signal: options.signal,
            stopAfter: options.stopAfter,
            onStep: options.onStep,
            onCommand: options.onCommand,
          });
    const provisional =
      result.status === 'succeeded' && options.confirmWithin !== undefined
        ? await leaveProvisional(journal, {
            store,
            runId,
            runbook: runbook.spec.name,
            host,
            withinMs: options.confirmWithin.ms,
            launch: options.confirmWithin.revertLaunch,
            executor: options.executor,
            onUndo: options.onUndo,
            onCommand: options.onCommand,
            onNote: options.onNote,
          })
        : undefined;
    journal.close();
    // Still under the lock: nothing else may act on the host between the failure and its undo.
    const rollback =
      result.status === 'failed' && options.rollbackOnFailure
        ? await rollbackWhileLocked({
            store,
            runId,
            // No later run can build on it: the locks have been held since it started.
            force: true,
            executor: options.executor,
            signal: options.signal,
            onUndo: options.onUndo,
            onCommand: options.onCommand,
            findOwners: options.findOwners,
          })
        : undefined;
    return { ...result, runId, rollback, provisional, replaced };
  } finally {
    journal.close();
  }
}

/** The plan to run, checked before anything else: `--until` names a step, every program is installed. */
async function planOf(options: RunRunbookOptions): Promise<Plan> {
  const { runbook, params } = options;
  // Imported only when needed: a cached plan needs no renderer.
  const plan = options.plan ?? (await import('../runbook/render.js')).renderPlan(runbook.spec, params);
  validateRunRequest(plan, runbook.spec.name, options.stopAfter, options.executor);
  return plan;
}
