import { fromPromise } from 'xstate';
import { succeeded } from '../exec/types.js';
import type { PlannedStep } from '../runbook/plan.js';
import { evaluate } from './expectations.js';
import { runJournaled, type CommandContext } from './journaled-command.js';
import type { ChecksOutput, CommandsOutput, PhaseInput, ProbesOutput } from './machine.js';

/** A verification that did not hold, with what it showed. */
export interface FailedCheck {
  argv: readonly string[];
  reason: string;
  evidence: string | undefined;
  /** A `requires` check: `do` did not run because of it. */
  refused?: true;
}

/** A probe that matched: the cause of a failure, the line that shows it, the way to fix it. */
export interface Finding {
  cause: string;
  evidence: string | undefined;
  fix: string | undefined;
  argv: readonly string[];
}

/** What the phases learned, for the final report (the journal has it all too). */
export interface PhaseRecorder {
  lastFailedCheck: Map<string, FailedCheck>;
  findings: Map<string, Finding[]>;
}

/**
 * Runs a step's verify checks in order, journaling each verdict, and stops at the first that
 * does not hold. Returns that check (with what it showed), or undefined when all hold.
 * The run machine's check and verify phases and `runbook check` all go through here.
 */
export async function runStepChecks(
  ctx: CommandContext,
  step: PlannedStep,
  phase: 'check' | 'verify' | 'requires',
): Promise<FailedCheck | undefined> {
  const checks = phase === 'requires' ? step.requires : step.verify;
  for (const [index, check] of checks.entries()) {
    const result = await runJournaled(ctx, step.id, phase, index, check);
    const verdict = evaluate(check.expect, result);
    ctx.journal.append({
      type: 'check',
      step: step.id,
      phase,
      index,
      ok: verdict.ok,
      reason: verdict.reason,
      evidence: verdict.evidence,
    });
    if (!verdict.ok) return { argv: check.argv, reason: verdict.reason, evidence: verdict.evidence };
  }
  return undefined;
}

/**
 * Runs a step's diagnose probes in order; the first that matches names the cause and is
 * journaled as a `finding`. Returns the findings: none, or that one.
 * The run machine's diagnosing state and `runbook check` both go through here.
 */
export async function runStepProbes(ctx: CommandContext, step: PlannedStep): Promise<Finding[]> {
  for (const [index, probe] of step.diagnose.entries()) {
    const result = await runJournaled(ctx, step.id, 'diagnose', index, probe);
    const verdict = evaluate(probe.when, result);
    if (!verdict.ok) continue;
    const finding: Finding = { cause: probe.cause, evidence: verdict.evidence, fix: probe.fix, argv: probe.argv };
    ctx.journal.append({ type: 'finding', step: step.id, index, ...finding });
    // Probes go from the most basic cause to the most specific: the first that matches
    // is the root cause, and the later ones would only repeat its consequences.
    return [finding];
  }
  return [];
}

/**
 * The implementations of the machine's named actors: check / verify, do, diagnose.
 * Each runs its step's commands through runJournaled, so each is journaled before and after.
 */
export function createPhaseActors(
  steps: ReadonlyMap<string, PlannedStep>,
  ctx: CommandContext,
  recorder: PhaseRecorder,
) {
  const stepOf = (stepId: string): PlannedStep => {
    const step = steps.get(stepId);
    if (step === undefined) throw new Error(`unknown step ${stepId}`);
    return step;
  };

  return {
    runChecks: fromPromise<ChecksOutput, PhaseInput & { phase: 'check' | 'verify' }>(async ({ input }) => {
      const step = stepOf(input.stepId);
      const failed = await runStepChecks(ctx, step, input.phase);
      // A refused `do` is the story of this step's failure; verify failing after it is no news.
      if (failed !== undefined && recorder.lastFailedCheck.get(step.id)?.refused !== true)
        recorder.lastFailedCheck.set(step.id, failed);
      return { passed: failed === undefined };
    }),

    runCommands: fromPromise<CommandsOutput, PhaseInput>(async ({ input }) => {
      const step = stepOf(input.stepId);
      // A precondition that does not hold means `do` would act on something that is not what
      // the runbook means (say, a same-named link of someone else's): do nothing, let verify
      // fail and the probes say why.
      const refused = await runStepChecks(ctx, step, 'requires');
      if (refused !== undefined) {
        recorder.lastFailedCheck.set(step.id, {
          ...refused,
          reason: `did not run "do": a precondition does not hold: ${refused.reason}`,
          refused: true,
        });
        return { allSucceeded: false };
      }
      // Captures first: what undo will need to restore must be on disk before anything changes.
      for (const [index, capture] of step.capture.entries()) {
        const result = await runJournaled(ctx, step.id, 'capture', index, capture);
        if (!succeeded(result)) return { allSucceeded: false };
        ctx.journal.append({ type: 'capture', step: step.id, name: capture.name, value: result.stdout.trim() });
      }
      for (const [index, command] of step.do.entries()) {
        const result = await runJournaled(ctx, step.id, 'do', index, command);
        // Later commands of a step build on earlier ones: stop at the first failure and let
        // verify decide whether the effect is there anyway.
        if (!succeeded(result)) return { allSucceeded: false };
      }
      return { allSucceeded: true };
    }),

    runProbes: fromPromise<ProbesOutput, PhaseInput>(async ({ input }) => {
      const step = stepOf(input.stepId);
      const findings = await runStepProbes(ctx, step);
      recorder.findings.set(step.id, findings);
      return { findings: findings.length };
    }),
  };
}
