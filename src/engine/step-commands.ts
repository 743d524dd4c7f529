import { succeeded, type CommandResult } from '../exec/types.js';
import type { Phase, PlannedCapture, PlannedCommand } from '../plan/plan.js';
import { evaluate } from './expectations.js';
import { firstMatchLinear } from '../runbook/linear-regex.js';
import { runJournaled, type CommandContext } from './journaled-command.js';

/**
 * What `do` and `undo` commands share beyond running: captured values filled in, the `if` /
 * `unless` condition decided (and journaled), `ok_exit` honoured. Issue 12.
 */

// Filling captured (and exported) values into a command: step-values.ts.
export { withValues } from './step-values.js';

/** What running a do or undo command came to. */
export type CommandOutcome = { kind: 'ran'; result: CommandResult; ok: boolean } | { kind: 'skipped'; reason: string };

/**
 * Runs a `do` or `undo` command: first its condition, if it has one (journaled as a command and
 * a check in the phase "do-condition" / "undo-condition"); when the condition says no, a
 * `command-skipped` entry and nothing else. A condition that could not run at all (timed out,
 * not installed) decides nothing: the command is not run and counts as failed, so that verify
 * decides.
 */
export async function runGuarded(
  ctx: CommandContext,
  stepId: string,
  phase: 'do' | 'undo',
  index: number,
  command: PlannedCommand,
): Promise<CommandOutcome> {
  const condition = command.condition;
  if (condition !== undefined) {
    const conditionPhase: Phase = phase === 'do' ? 'do-condition' : 'undo-condition';
    const result = await runJournaled(ctx, stepId, conditionPhase, index, condition);
    const verdict = evaluate(condition.expect, result);
    ctx.journal.append({
      type: 'check',
      step: stepId,
      phase: conditionPhase,
      index,
      ok: verdict.ok,
      reason: verdict.reason,
      evidence: verdict.evidence,
    });
    const couldNotRun = result.timedOut || result.startError !== undefined;
    if (couldNotRun || verdict.ok !== condition.runWhenHolds) {
      const reason = couldNotRun
        ? `its condition could not be checked: ${verdict.reason}`
        : condition.runWhenHolds
          ? `its "if" does not hold: ${verdict.reason}`
          : `its "unless" holds`;
      ctx.journal.append({ type: 'command-skipped', step: stepId, phase, index, reason });
      if (couldNotRun) return { kind: 'ran', result, ok: false };
      return { kind: 'skipped', reason };
    }
  }
  const result = await runJournaled(ctx, stepId, phase, index, command);
  return { kind: 'ran', result, ok: succeeded(result, command.okExit) };
}

/**
 * Runs a capture command and extracts its value: the output (trimmed unless `trim: false`), the
 * field `json` names (keys and array indexes joined by "."), or the first group of `regex` ("" when
 * that group is optional and did not match).
 * Returns the value, or why there is none.
 */
export async function runCapture(
  ctx: CommandContext,
  stepId: string,
  index: number,
  capture: PlannedCapture,
  phase: 'capture' | 'export' = 'capture',
): Promise<{ value: string } | { problem: string }> {
  const result = await runJournaled(ctx, stepId, phase, index, capture);
  if (!succeeded(result, capture.okExit)) return { problem: 'the command failed' };
  // Bytes that are not UTF-8 text (a binary file) cannot be journaled as they are: an undo
  // would write back a lossy copy. Nothing is kept, and `do` does not run.
  let extracted: { value: string } | { problem: string } =
    result.stdoutNotText === true
      ? { problem: 'its output is not UTF-8 text, so it could not be kept exactly for undo' }
      : extractValue(capture, result.stdout);
  // A NUL cannot be given to any program: undo could never use the value (issue 22).
  if ('value' in extracted && extracted.value.includes('\0'))
    extracted = { problem: 'the value holds a NUL character, which no command can be given' };
  // The command ran, but gave nothing to keep: say so in the journal, since no capture entry follows.
  if ('problem' in extracted) {
    ctx.journal.append({
      type: 'check',
      step: stepId,
      phase,
      index,
      ok: false,
      reason: `nothing ${phase === 'capture' ? 'captured' : 'exported'} for ${capture.name}: ${extracted.problem}`,
      evidence: undefined,
    });
  }
  return extracted;
}

/** The value a capture keeps from a command's output (pure, so it is tested on its own). */
export function extractValue(
  capture: Pick<PlannedCapture, 'json' | 'regex' | 'trim'>,
  stdout: string,
): { value: string } | { problem: string } {
  if (capture.json !== undefined) {
    let node: unknown;
    try {
      node = JSON.parse(stdout);
    } catch {
      return { problem: 'its output is not JSON' };
    }
    for (const key of capture.json.split('.')) {
      if (Array.isArray(node) && /^\d+$/.test(key)) node = node[Number(key)];
      else if (node !== null && typeof node === 'object' && !Array.isArray(node) && Object.hasOwn(node, key))
        node = (node as Record<string, unknown>)[key];
      else return { problem: `its output has nothing at ${capture.json}` };
    }
    if (node === null || typeof node === 'object' || node === undefined)
      return { problem: `${capture.json} is ${node === null ? 'null' : 'not a single value'} in its output` };
    return { value: String(node) };
  }
  if (capture.regex !== undefined) {
    // RE2's linear-time engine, like output_matches: no pattern can hang a run (issue 11).
    const match = firstMatchLinear(capture.regex, stdout);
    if (match === undefined) return { problem: `its output does not match /${capture.regex}/` };
    // With a group, its text; a group that took no part in the match (an optional one, for
    // something that may be absent) gives "". Without a group, the whole match.
    return { value: match.groups > 0 ? (match.group1 ?? '') : match.match };
  }
  return { value: capture.trim === false ? stdout : stdout.trim() };
}
