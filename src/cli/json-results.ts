import { CommanderError } from 'commander';
import { ExitCode, RunbookError } from '../errors.js';
import type { StepFailure, StepReport, StepsResult } from '../engine/execute-steps.js';
import { renderAdvice, type UserContext } from './render-advice.js';
import { PreconditionsRefused } from '../engine/preconditions-refused.js';

/**
 * The summary objects `--json` ends with: the stable contract that the Ansible module (and any
 * other program) reads instead of human text. docs/json-output.md describes every field; add
 * fields freely, but never rename or remove one.
 */

/** How a step failed, with the first finding flattened out: what a caller shows the operator. */
export function failureJson(failure: StepFailure | undefined): Record<string, unknown> | undefined {
  if (failure === undefined) return undefined;
  const [finding] = failure.findings;
  return {
    ...failure,
    cause: finding?.cause,
    evidence: finding?.evidence,
    fix: finding?.fix,
  };
}

/** The last line of `run --json` and `resume --json`. */
export function runEndJson(runId: string, runbook: string, result: StepsResult): Record<string, unknown> {
  return {
    event: 'run-end',
    runId,
    runbook,
    status: result.status,
    changed: result.steps.filter((s) => s.outcome === 'changed').length,
    steps: result.steps.map(stepJson),
    failure: failureJson(result.failure),
  };
}

function stepJson(report: StepReport): Record<string, unknown> {
  return {
    stepId: report.stepId,
    title: report.title,
    outcome: report.outcome,
    durationMs: report.durationMs,
    doFailed: report.doFailed,
    // Issue 28: why its `when:` skipped it.
    ...(report.skipReason !== undefined && { skipReason: report.skipReason }),
  };
}

/**
 * A failure before or instead of a result (invalid input, lock held, not root…), for `--json`:
 * the same message and hint the text output prints on stderr, with the exit code.
 */
export function errorJson(error: unknown, user: UserContext): Record<string, unknown> {
  if (error instanceof PreconditionsRefused) {
    // Every precondition that refused the run, each with its steps, cause and fix (issue 23).
    return {
      event: 'error',
      code: error.code,
      exitCode: error.exitCode,
      message: error.message,
      hint: error.hint === undefined ? undefined : renderAdvice(error.hint, user),
      preconditions: error.failures,
      missingPrograms: error.missingPrograms,
    };
  }
  if (error instanceof RunbookError) {
    const hint = error.hint === undefined ? undefined : renderAdvice(error.hint, user);
    return { event: 'error', code: error.code, exitCode: error.exitCode, message: error.message, hint };
  }
  if (error instanceof CommanderError) {
    return {
      event: 'error',
      code: 'invalid-input',
      exitCode: ExitCode.invalidInput,
      message: error.message.replace(/^error: /, ''),
    };
  }
  return {
    event: 'error',
    code: 'internal',
    exitCode: ExitCode.stepFailed,
    message: error instanceof Error ? error.message : String(error),
  };
}
