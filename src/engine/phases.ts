import { setTimeout as sleep } from 'node:timers/promises';
import { fromPromise } from 'xstate';
import type { PlannedStep, Retry } from '../runbook/plan.js';
import { evaluate } from './expectations.js';
import { InterruptedError, runJournaled, type CommandContext } from './journaled-command.js';
import { runCapture, runGuarded, withValues } from './step-commands.js';
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
  // Retries are for effects that settle (a ping after a repair, an address leaving "tentative"):
  // after `do`, and for a step without `do`, whose check is its verification. A step with `do`
  // whose first check fails is simply done, with no waiting; preconditions are not retried.
  const retrying = phase === 'verify' || (phase === 'check' && step.do.length === 0);
  const checks = phase === 'requires' ? step.requires : step.verify;
  for (const [index, check] of checks.entries()) {
    const attempts = retrying ? 1 + (check.retries ?? 0) : 1;
    let verdict = { ok: false, reason: '', evidence: undefined as string | undefined };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await pause(ctx, check);
      const numbered = attempts > 1 ? attempt : undefined;
      const result = await runJournaled(ctx, step.id, phase, index, check, numbered);
      verdict = evaluate(check.expect, result);
      ctx.journal.append({
        type: 'check',
        step: step.id,
        phase,
        index,
        ok: verdict.ok,
        reason: verdict.reason,
        evidence: verdict.evidence,
        ...(numbered !== undefined && { attempt: numbered }),
      });
      if (verdict.ok) break;
    }
    if (!verdict.ok) return { argv: check.argv, reason: verdict.reason, evidence: verdict.evidence };
  }
  return undefined;
}

/** Waits between two attempts of a check or probe; an interrupt ends the wait at once. */
async function pause(ctx: CommandContext, retry: Retry): Promise<void> {
  const ms = retry.delayMs ?? 0;
  if (ms === 0) return;
  try {
    await sleep(ms, undefined, { signal: ctx.signal });
  } catch {
    throw new InterruptedError();
  }
}

/**
 * Runs a step's diagnose probes in order; the first that matches names the cause and is
 * journaled as a `finding`. Returns the findings: none, or that one.
 * The run machine's diagnosing state and `runbook check` both go through here.
 */
export async function runStepProbes(ctx: CommandContext, step: PlannedStep): Promise<Finding[]> {
  for (const [index, probe] of step.diagnose.entries()) {
    const attempts = 1 + (probe.retries ?? 0);
    let verdict = { ok: false, reason: '', evidence: undefined as string | undefined };
    for (let attempt = 1; attempt <= attempts && !verdict.ok; attempt++) {
      if (attempt > 1) await pause(ctx, probe);
      const result = await runJournaled(ctx, step.id, 'diagnose', index, probe, attempts > 1 ? attempt : undefined);
      verdict = evaluate(probe.when, result);
    }
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
      const values: Record<string, string> = {};
      for (const [index, capture] of step.capture.entries()) {
        const captured = await runCapture(ctx, step.id, index, capture);
        if ('problem' in captured) return { allSucceeded: false };
        ctx.journal.append({ type: 'capture', step: step.id, name: capture.name, value: captured.value });
        values[capture.name] = captured.value;
      }
      for (const [index, planned] of step.do.entries()) {
        // `do` uses this attempt's captured values (what is on the host now).
        const command = step.capture.length > 0 ? withValues(planned, values) : planned;
        const outcome = await runGuarded(ctx, step.id, 'do', index, command);
        // Later commands of a step build on earlier ones: stop at the first failure and let
        // verify decide whether the effect is there anyway.
        if (outcome.kind === 'ran' && !outcome.ok) return { allSucceeded: false };
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
