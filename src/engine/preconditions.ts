import { programsOf, spawned } from '../host/preflight.js';
import type { Executor } from '../exec/types.js';
import type { PlannedRequire, PlannedStep } from '../plan/plan.js';
import { evaluate } from './expectations.js';
import { runJournaled, type CommandContext } from './journaled-command.js';
import { runStepChecks, runStepCondition } from './phases.js';
import type { FailedPrecondition } from './preconditions-refused.js';

export {
  describePrecondition,
  PreconditionsRefused,
  type FailedPrecondition,
  type PreconditionSeverity,
} from './preconditions-refused.js';

/**
 * Preconditions about the host as found (issue 23): a subnet the host already routes elsewhere,
 * a name another link already has, an address the host must have. A runbook marks them
 * `preflight: true` among a step's `requires`; they are checked before the run changes anything,
 * every one of them (not only up to the first that fails), so that a run they refuse changes
 * nothing and names them all at once. Each is still checked again as an ordinary precondition
 * when its step comes (the host may change in between).
 *
 * A step that already holds (its verify checks pass: a re-run, or the route this runbook made)
 * has nothing to do, so its preconditions do not apply; a step without `do` (a ping) has no
 * "holds already" to ask cheaply, so its preflight preconditions are facts checked every time.
 * A step its `when:` skips here is not asked; nor one that uses values earlier steps export
 * (issue 28), which exist only once those steps ran: its preconditions are asked when it runs.
 */

export interface PreconditionsOptions extends CommandContext {
  steps: readonly PlannedStep[];
  /**
   * Steps not to check: those a replace undoes and does again, whose preconditions may see what
   * the earlier run made (its own route in the subnet): they are checked when their step runs.
   */
  skip?: ReadonlySet<string> | undefined;
}

/** Whether a step has preconditions to check before the run. */
export function hasPreflight(step: PlannedStep): boolean {
  return step.requires.some((r) => r.preflight === true);
}

/**
 * Checks every preflight precondition of the steps that do not hold yet; returns those that do
 * not hold (none: the run may go ahead). Read-only: runs checks and reads files only. A check
 * whose program is not installed is not run (the missing program is reported on its own).
 */
export async function checkPreconditions(options: PreconditionsOptions): Promise<FailedPrecondition[]> {
  const failed = new Map<string, FailedPrecondition>();
  const verdicts = new Map<string, boolean>();
  for (const step of options.steps) {
    if (options.skip?.has(step.id) === true || !hasPreflight(step)) continue;
    // A step that uses values earlier steps export (issue 28) can only be asked once they ran.
    if (Object.keys(step.imports ?? {}).length > 0) continue;
    // A step its `when:` skips on this host has nothing to do here.
    if ((await runStepCondition(options, step, {})).verdict === 'does-not-hold') continue;
    if (step.do.length > 0 && (await runStepChecks(options, step, 'check')) === undefined) continue;
    for (const [index, require] of step.requires.entries()) {
      if (require.preflight !== true || !runnable(options.executor, require)) continue;
      const key = JSON.stringify([require.argv, require.read, require.stdin, require.expect, require.cause]);
      const known = failed.get(key);
      if (known !== undefined) {
        known.steps.push(step.id);
        continue;
      }
      if (verdicts.get(key) === true) continue;
      const result = await runJournaled(options, step.id, 'requires', index, require);
      const verdict = evaluate(require.expect, result);
      options.journal.append({
        type: 'check',
        step: step.id,
        phase: 'requires',
        index,
        ok: verdict.ok,
        reason: verdict.reason,
        evidence: verdict.evidence,
      });
      verdicts.set(key, verdict.ok);
      if (!verdict.ok) failed.set(key, failure(step.id, require, verdict));
    }
  }
  return [...failed.values()];
}

function failure(
  stepId: string,
  require: PlannedRequire,
  verdict: { reason: string; evidence: string | undefined },
): FailedPrecondition {
  return {
    severity: 'refuse',
    steps: [stepId],
    argv: require.argv,
    reason: verdict.reason,
    // A line of output shows what is in the way; a JSON mismatch ("no element matches") does not.
    evidence: require.expect.json === undefined ? verdict.evidence : undefined,
    cause: require.cause,
    fix: require.fix,
  };
}

/** Whether every program the check runs is installed (a `read:` runs none). */
function runnable(executor: Executor, require: PlannedRequire): boolean {
  const resolves = executor.resolves?.bind(executor);
  if (resolves === undefined) return true;
  return spawned(require)
    .flatMap(programsOf)
    .every((program) => resolves(program));
}
