import { requirePrograms, spawned } from '../host/preflight.js';
import type { Executor } from '../exec/types.js';
import { currentHost, currentUser } from '../host/identity.js';
import type { HostIdentity } from '../journal/entries.js';
import { MemoryJournal } from '../journal/sink.js';
import type { LoadedRunbook } from '../runbook/load.js';
import type { ParamValues } from '../runbook/params.js';
import type { Plan } from '../plan/plan.js';
import type { RunStore } from '../store/run-store.js';
import { engineVersion } from '../version.js';
import { buildCheckMachine, type StepCheck } from './check-machine.js';
import type { CommandContext, CommandEvent } from './journaled-command.js';
import { createPhaseActors, type FailedCheck, type Finding } from './phases.js';
import { driveWalk } from './walk-machine.js';

/**
 * `runbook check`: does the host still hold what a runbook promises? Read-only, like CNI's
 * CHECK or sqitch's verify: every step's verify checks run against the live host, and for a
 * step that does not hold, its diagnose probes name the cause. No `do`, no `undo`, no capture:
 * nothing is changed. The checks and probes are the very functions the run machine uses
 * (phases.ts), so `check` and `run` can never disagree on what "holds" means.
 */

export type { StepCheck } from './check-machine.js';

export type CheckStatus = 'ok' | 'not-ok' | 'interrupted';

export interface CheckStepsResult {
  status: CheckStatus;
  steps: StepCheck[];
}

export interface CheckStepsOptions extends CommandContext {
  plan: Pick<Plan, 'steps'>;
  onStep?: ((step: StepCheck) => void) | undefined;
}

/**
 * Checks every step of a plan in order, through the check machine (check-machine.ts): a failing
 * step does not stop the others, the report shows all that holds and all that does not.
 * Commands and verdicts go to `options.journal`.
 */
export async function checkSteps(options: CheckStepsOptions): Promise<CheckStepsResult> {
  const { runCondition, runChecks, runProbes, runExports } = createPhaseActors(
    new Map(options.plan.steps.map((s) => [s.id, s])),
    options,
  );
  const machine = buildCheckMachine(options.plan, {
    actors: { runCondition, runChecks, runProbes, runExports },
    actions: {
      stepFinished: ({ context }) => {
        const step = context.steps.at(-1);
        if (step !== undefined) options.onStep?.(step);
      },
    },
  });
  const { status, steps } = await driveWalk(machine);
  return { status, steps };
}

/** The line `runbook check` appends to `<state-dir>/audit.ndjson`. */
export interface CheckAuditRecord {
  type: 'check';
  time: string;
  runbook: string;
  runbookFile: string;
  runbookHash: string;
  params: Record<string, string>;
  user: { uid: number; sudoUser: string | undefined };
  host: HostIdentity;
  engineVersion: string;
  status: CheckStatus;
  durationMs: number;
  /** How many steps were checked, hold, do not hold (an interrupted check has fewer checked). */
  summary: { steps: number; checked: number; holding: number; failing: number };
  /** The distinct causes the probes named, in step order. */
  causes: string[];
  steps: Array<{
    step: string;
    title: string;
    ok: boolean;
    check: FailedCheck | undefined;
    findings: Finding[];
    durationMs: number;
    /** Its `when:` did not hold: not checked (issue 28). */
    skipped?: string | undefined;
  }>;
}

export interface CheckRunbookOptions {
  runbook: LoadedRunbook;
  params: ParamValues;
  plan: Plan;
  store: RunStore;
  executor: Executor;
  signal?: AbortSignal | undefined;
  onStep?: ((step: StepCheck) => void) | undefined;
  onCommand?: ((event: CommandEvent) => void) | undefined;
}

export interface CheckRunbookResult extends CheckStepsResult {
  record: CheckAuditRecord;
  auditFile: string;
}

/**
 * Checks a runbook against the live host and records the check as one audit line. The
 * commands' full output is not kept (nothing changed, so there is nothing to resume or undo):
 * the record carries each step's verdict, the check that failed and the diagnosis.
 */
export async function checkRunbook(options: CheckRunbookOptions): Promise<CheckRunbookResult> {
  // Read-only, but a check that cannot start proves nothing: say what is missing up front.
  requirePrograms(
    options.executor,
    options.plan.steps.flatMap((step) =>
      [
        ...(step.when === undefined ? [] : [step.when]),
        ...step.verify,
        ...step.diagnose,
        ...(step.export ?? []),
      ].flatMap(spawned),
    ),
    `checking runbook ${options.runbook.spec.name}`,
  );
  const started = performance.now();
  const time = new Date().toISOString();
  const result = await checkSteps({
    plan: options.plan,
    executor: options.executor,
    journal: new MemoryJournal(),
    signal: options.signal,
    onCommand: options.onCommand,
    onStep: options.onStep,
  });
  const record: CheckAuditRecord = {
    type: 'check',
    time,
    runbook: options.runbook.spec.name,
    runbookFile: options.runbook.file,
    runbookHash: options.runbook.hash,
    params: { ...options.params },
    user: currentUser(),
    host: currentHost(),
    engineVersion,
    status: result.status,
    durationMs: Math.round(performance.now() - started),
    summary: {
      steps: options.plan.steps.length,
      checked: result.steps.length,
      holding: result.steps.filter((s) => s.ok).length,
      failing: result.steps.filter((s) => !s.ok).length,
    },
    causes: distinctCauses(result.steps),
    steps: result.steps.map((s) => ({
      step: s.stepId,
      title: s.title,
      ok: s.ok,
      check: s.check,
      findings: s.findings,
      durationMs: s.durationMs,
      ...(s.skipped !== undefined && { skipped: s.skipped }),
    })),
  };
  // One line, appended in a single write and fsync'd: durable, never interleaved (run-store.ts).
  const file = options.store.appendAudit(record);
  return { ...result, record, auditFile: file };
}

/** The causes named by the probes of failing steps, each once, in step order. */
export function distinctCauses(steps: readonly StepCheck[]): string[] {
  return [...new Set(steps.flatMap((s) => s.findings.map((f) => f.cause)))];
}
