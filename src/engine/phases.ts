import { setTimeout as sleep } from 'node:timers/promises';
import { fromPromise } from 'xstate';
import type { PlannedCommand, PlannedStep, Retry } from '../plan/plan.js';
import { TemplateError } from '../runbook/template.js';
import { evaluate } from './expectations.js';
import { InterruptedError, runJournaled, type CommandContext } from './journaled-command.js';
import { runCapture, runGuarded } from './step-commands.js';
import { checkWithValues, probeWithValues, withValues, type Values } from './step-values.js';
import { timed } from './walk-machine.js';
import type {
  ChecksInput,
  ChecksOutput,
  CommandsOutput,
  ConditionOutput,
  ExportsOutput,
  FailedCheck,
  FinalPassInput,
  FinalPassOutput,
  Finding,
  PhaseInput,
  ProbesOutput,
} from './machine.js';

export type { FailedCheck, Finding } from './machine.js';

/**
 * Runs a step's verify checks in order, journaling each verdict, and stops at the first that
 * does not hold. Returns that check (with what it showed), or undefined when all hold.
 * The run machine's check and verify phases and `runbook check` all go through here.
 */
export async function runStepChecks(
  ctx: CommandContext,
  step: PlannedStep,
  phase: 'check' | 'verify' | 'requires' | 'final-verify',
  values: Values = {},
): Promise<FailedCheck | undefined> {
  // Retries are for effects that settle (a ping after a repair, an address leaving "tentative"):
  // after `do`, and for a step without `do`, whose check is its verification. A step with `do`
  // whose first check fails is simply done, with no waiting; preconditions are not retried.
  // The final pass retries as verify does: a ping that needs a moment after the last step.
  const retrying = phase === 'verify' || phase === 'final-verify' || (phase === 'check' && step.do.length === 0);
  const checks = phase === 'requires' ? step.requires : step.verify;
  for (const [index, planned] of checks.entries()) {
    const check = checkWithValues(planned, values);
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
 * Runs a step's diagnose probes in order; each that matches names a cause and is journaled as
 * a `finding`. Probes go from the most basic cause to the most specific: a basic one that
 * matches is the root cause, and the later ones would only repeat its consequences, so it ends
 * the diagnosis. An independent probe (one with `concerns`: the host route, the route back)
 * names a cause of its own beside the others, so the probes after it still run (issue 18: a
 * step missing both routes is told of both). Returns the findings, in probe order.
 * The run machine's diagnosing state and `runbook check` both go through here.
 */
export async function runStepProbes(ctx: CommandContext, step: PlannedStep, values: Values = {}): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [index, planned] of step.diagnose.entries()) {
    const probe = probeWithValues(planned, values);
    if (!probe.independent && findings.length > 0) break;
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
    findings.push(finding);
    if (!probe.independent) break;
  }
  return findings;
}

/**
 * The implementations of the machine's named actors: check / verify, do, diagnose. Each runs
 * its step's commands through runJournaled, so each is journaled before and after, and returns
 * what it found for the machine to keep: the failed check, whether a command failed, the
 * findings, and how long it ran.
 */
export function createPhaseActors(
  steps: ReadonlyMap<string, PlannedStep>,
  ctx: CommandContext,
  createdEarlier: readonly string[] = [],
) {
  // The steps this run has changed the host with, in any attempt (as RunHistory counts them: a
  // `do` command that succeeded, or one cut off in an earlier attempt): what `only_if_created_by`
  // asks about. Grows as this attempt's `do` commands succeed.
  const created = new Set(createdEarlier);
  const stepOf = (stepId: string): PlannedStep => {
    const step = steps.get(stepId);
    if (step === undefined) throw new Error(`unknown step ${stepId}`);
    return step;
  };

  return {
    runChecks: fromPromise<ChecksOutput, ChecksInput>(({ input }) =>
      timed(async () => ({ failed: await runStepChecks(ctx, stepOf(input.stepId), input.phase, input.values) })),
    ),

    runCommands: fromPromise<CommandsOutput, PhaseInput>(({ input }) =>
      timed(() => runStepCommands(ctx, stepOf(input.stepId), created, input.values)),
    ),

    runProbes: fromPromise<ProbesOutput, PhaseInput>(({ input }) =>
      timed(async () => ({ findings: await runStepProbes(ctx, stepOf(input.stepId), input.values) })),
    ),

    runCondition: fromPromise<ConditionOutput, PhaseInput>(({ input }) =>
      timed(() => runStepCondition(ctx, stepOf(input.stepId), input.values)),
    ),

    runExports: fromPromise<ExportsOutput, PhaseInput>(({ input }) =>
      timed(() => runStepExports(ctx, stepOf(input.stepId), input.values)),
    ),

    verifyAgain: fromPromise<FinalPassOutput, FinalPassInput>(({ input }) => verifyAgain(ctx, steps, created, input)),
  };
}

/**
 * A step's `when:` (issue 28): a read-only check, journaled in the phase `when` like any check.
 * A condition that could not run at all (not installed, timed out) decides nothing: the step
 * fails, rather than being skipped or run on a guess.
 */
export async function runStepCondition(
  ctx: CommandContext,
  step: PlannedStep,
  values: Values,
): Promise<{ verdict: ConditionOutput['verdict']; reason: string }> {
  if (step.when === undefined) return { verdict: 'holds', reason: '' };
  const condition = checkWithValues(step.when, values);
  const result = await runJournaled(ctx, step.id, 'when', 0, condition);
  const verdict = evaluate(condition.expect, result);
  ctx.journal.append({
    type: 'check',
    step: step.id,
    phase: 'when',
    index: 0,
    ok: verdict.ok,
    reason: verdict.reason,
    evidence: verdict.evidence,
  });
  if (result.timedOut || result.startError !== undefined) return { verdict: 'could-not-check', reason: verdict.reason };
  if (verdict.ok) return { verdict: 'holds', reason: '' };
  return {
    verdict: 'does-not-hold',
    reason: `its "when:" (${condition.argv.join(' ')}) does not hold: ${verdict.reason}`,
  };
}

/**
 * Reads what a step exports (issue 28), in order, once its effect holds: each value journaled
 * as an `export` entry before the next step starts, so that a resume or rollback reads it from
 * the journal. An export may use the ones before it. A value that cannot be read fails the step:
 * the steps after it would run without it.
 */
export async function runStepExports(
  ctx: CommandContext,
  step: PlannedStep,
  values: Values,
): Promise<{ values: Record<string, string>; failed: FailedCheck | undefined }> {
  const exported: Record<string, string> = {};
  for (const [index, planned] of (step.export ?? []).entries()) {
    const command = withValues(planned, { ...values, ...exported });
    const read = await runCapture(ctx, step.id, index, command, 'export');
    if ('problem' in read)
      return {
        values: exported,
        failed: {
          argv: command.argv,
          reason: `could not read ${planned.name}, which it exports to later steps: ${read.problem}`,
          evidence: undefined,
        },
      };
    ctx.journal.append({ type: 'export', step: step.id, name: planned.name, value: read.value });
    exported[planned.name] = read.value;
  }
  return { values: exported, failed: undefined };
}

/**
 * The final pass (issue 28): once the steps have run, every step that a later step could have
 * undone is verified again, checks only (no retries beyond its own, no probes unless it fails).
 * "Could have": some step after it changed the host (ran a `do` command), in this attempt or an
 * earlier one. A run in which nothing changed (every step found in place) has nothing to verify
 * again. The first step that no longer holds ends the pass: its probes run, and the failure
 * names the steps that changed the host after it, one of which undid it.
 */
async function verifyAgain(
  ctx: CommandContext,
  steps: ReadonlyMap<string, PlannedStep>,
  created: ReadonlySet<string>,
  input: FinalPassInput,
): Promise<FinalPassOutput> {
  const order = input.stepIds;
  let lastChange = -1;
  order.forEach((id, i) => {
    if (created.has(id)) lastChange = i;
  });
  const toVerify = order.slice(0, Math.max(0, lastChange)).filter((id) => steps.has(id));
  if (toVerify.length === 0) return { failure: undefined };
  ctx.journal.append({ type: 'final-pass-start', steps: toVerify });
  for (const stepId of toVerify) {
    const step = steps.get(stepId) as PlannedStep;
    const found = importedValuesFor(step, input.exported);
    const failed = await runStepChecks(ctx, step, 'final-verify', found);
    if (failed === undefined) continue;
    const findings = await runStepProbes(ctx, step, found);
    const undoneBy = order
      .slice(order.indexOf(stepId) + 1)
      .filter((id) => created.has(id))
      .map((id) => ({ stepId: id, title: steps.get(id)?.title ?? '' }));
    ctx.journal.append({
      type: 'final-pass-end',
      status: 'failed',
      step: stepId,
      undoneBy: undoneBy.map((s) => s.stepId),
    });
    return {
      failure: {
        stepId,
        title: step.title,
        check: { ...failed, reason: `no longer holds at the end of the run: ${failed.reason}` },
        findings,
        undoneBy,
      },
    };
  }
  ctx.journal.append({ type: 'final-pass-end', status: 'held' });
  return { failure: undefined };
}

/** The values a step uses, for the final pass: every step it imports from has ended (or the pass would not run). */
function importedValuesFor(step: PlannedStep, exported: FinalPassInput['exported']): Values {
  const values: Record<string, string> = {};
  for (const [name, from] of Object.entries(step.imports ?? {})) {
    const value = exported.get(from)?.[name];
    if (value !== undefined) values[name] = value;
  }
  return values;
}

/**
 * Runs a step's `requires` checks, then its captures, then its do commands; stops at the first
 * that fails. A refused precondition is returned with the reason, for the failure's story.
 * Every `do` command that succeeds adds its step to `created`.
 */
async function runStepCommands(
  ctx: CommandContext,
  step: PlannedStep,
  created: Set<string>,
  imported: Values = {},
): Promise<{ allSucceeded: boolean; refused: FailedCheck | undefined }> {
  // An object found in place before the run is adopted as it is: a step whose `do` would change
  // it beyond what its `undo` can put back (a pre-existing veth pair's end moved into the
  // namespace: undoing the move deletes the pair) does not run (issue 11).
  const adopted = (step.onlyIfCreatedBy ?? []).find((earlier) => !created.has(earlier));
  if (adopted !== undefined) {
    const reason =
      `did not run "do": step ${adopted} found its object in place before this run (adopted, not created by it), ` +
      `and this step would change it in a way rollback could not put back`;
    for (const index of step.do.keys())
      ctx.journal.append({ type: 'command-skipped', step: step.id, phase: 'do', index, reason });
    return { allSucceeded: false, refused: { argv: [], reason, evidence: undefined, refused: true } };
  }
  // A precondition that does not hold means `do` would act on something that is not what
  // the runbook means (say, a same-named link of someone else's): do nothing, let verify
  // fail and the probes say why.
  const refused = await runStepChecks(ctx, step, 'requires', imported);
  if (refused !== undefined) {
    return {
      allSucceeded: false,
      refused: {
        ...refused,
        reason: `did not run "do": a precondition does not hold: ${refused.reason}`,
        refused: true,
      },
    };
  }
  // Captures first: what undo will need to restore must be on disk before anything changes.
  const values: Record<string, string> = { ...imported };
  for (const [index, capture] of step.capture.entries()) {
    const captured = await runCapture(ctx, step.id, index, withValues(capture, imported));
    if ('problem' in captured) return { allSucceeded: false, refused: undefined };
    ctx.journal.append({ type: 'capture', step: step.id, name: capture.name, value: captured.value });
    values[capture.name] = captured.value;
  }
  for (const [index, planned] of step.do.entries()) {
    // `do` uses this attempt's captured values (what is on the host now), and what earlier
    // steps exported, filled in one pass; a value that cannot fill it fails the step.
    const command = fillValues(ctx, step.id, index, planned, values);
    if (command === undefined) return { allSucceeded: false, refused: undefined };
    const outcome = await runGuarded(ctx, step.id, 'do', index, command);
    // Later commands of a step build on earlier ones: stop at the first failure and let
    // verify decide whether the effect is there anyway.
    if (outcome.kind === 'ran' && !outcome.ok) return { allSucceeded: false, refused: undefined };
    if (outcome.kind === 'ran') created.add(step.id);
  }
  return { allSucceeded: true, refused: undefined };
}

/**
 * A `do` command with the step's runtime values (captured, exported to it) filled in; undefined
 * (journaled as not run) when a value cannot fill it — `{{old + 1}}` with a value that is not a
 * number: what the host gave is input, and the step fails on it, never the run on an internal
 * error (issue 22).
 */
function fillValues(
  ctx: CommandContext,
  stepId: string,
  index: number,
  command: PlannedCommand,
  values: Readonly<Record<string, string>>,
): PlannedCommand | undefined {
  try {
    return withValues(command, values);
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    const reason = `its runtime values cannot fill it: ${error.message}`;
    ctx.journal.append({ type: 'command-skipped', step: stepId, phase: 'do', index, reason });
    return undefined;
  }
}
