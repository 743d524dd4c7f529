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
import { InterruptedError, type CommandContext, type CommandEvent } from './journaled-command.js';
import {
  runStepChecks,
  runStepCondition,
  runStepExports,
  runStepProbes,
  type FailedCheck,
  type Finding,
} from './phases.js';
import { importedValues } from './step-values.js';

/**
 * `runbook check`: does the host still hold what a runbook promises? Read-only, like CNI's
 * CHECK or sqitch's verify: every step's verify checks run against the live host, and for a
 * step that does not hold, its diagnose probes name the cause. No `do`, no `undo`, no capture:
 * nothing is changed. The checks and probes are the very functions the run machine uses
 * (phases.ts), so `check` and `run` can never disagree on what "holds" means.
 */

/** What `check` found for one step. */
export interface StepCheck {
  stepId: string;
  title: string;
  ok: boolean;
  /** The first verify check that did not hold (undefined when the step holds). */
  check: FailedCheck | undefined;
  /** What the probes found: the first matching probe, or none. */
  findings: Finding[];
  durationMs: number;
  /** Its `when:` does not hold (issue 28): not checked, and not failing. */
  skipped?: string | undefined;
}

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
 * Checks every step of a plan in order (a failing step does not stop the others: the report
 * shows all that holds and all that does not). Commands and verdicts go to `options.journal`.
 */
export async function checkSteps(options: CheckStepsOptions): Promise<CheckStepsResult> {
  const steps: StepCheck[] = [];
  // What the steps export (issue 28), read live as a run would once each step holds: `check`
  // has no journal to read them from. A step whose exporter does not hold cannot be checked.
  const exported = new Map<string, Record<string, string>>();
  const skipped = new Set<string>();
  try {
    for (const step of options.plan.steps) {
      const started = performance.now();
      const result = await checkOneStep(options, step, exported, skipped);
      result.durationMs = Math.round(performance.now() - started);
      steps.push(result);
      options.onStep?.(result);
    }
  } catch (error) {
    if (error instanceof InterruptedError) return { status: 'interrupted', steps };
    throw error;
  }
  return { status: steps.every((s) => s.ok) ? 'ok' : 'not-ok', steps };
}

/** Checks one step: its `when:`, its verify checks (then probes), then what it exports. */
async function checkOneStep(
  options: CheckStepsOptions,
  step: Plan['steps'][number],
  exported: Map<string, Record<string, string>>,
  skipped: Set<string>,
): Promise<StepCheck> {
  const report = (check: FailedCheck | undefined, findings: Finding[] = [], skip?: string): StepCheck => ({
    stepId: step.id,
    title: step.title,
    ok: check === undefined,
    check,
    findings,
    durationMs: 0,
    ...(skip !== undefined && { skipped: skip }),
  });
  const imported = importedValues(step, exported, skipped);
  if ('missing' in imported)
    return report({
      argv: [],
      reason: imported.missing.replace(/^did not run/, 'could not be checked'),
      evidence: undefined,
    });
  const { values } = imported;
  if (step.when !== undefined) {
    const condition = await runStepCondition(options, step, values);
    if (condition.verdict === 'does-not-hold') {
      skipped.add(step.id);
      return report(undefined, [], condition.reason);
    }
    if (condition.verdict === 'could-not-check')
      return report({
        argv: step.when.argv,
        reason: `its "when:" could not be checked: ${condition.reason}`,
        evidence: undefined,
      });
  }
  const check = await runStepChecks(options, step, 'verify', values);
  if (check !== undefined) return report(check, await runStepProbes(options, step, values));
  if ((step.export ?? []).length > 0) {
    const read = await runStepExports(options, step, values);
    exported.set(step.id, read.values);
    if (read.failed !== undefined) return report(read.failed);
  }
  return report(undefined);
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
