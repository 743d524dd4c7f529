import type { FailedCheck, Finding } from '../engine/phases.js';
import type { StepReport, StepFailure } from '../engine/runner.js';

/** Column widths for the per-step progress lines. */
const outcomeWidth = 8;

/** One line per finished step: outcome, id, title and duration. */
export function formatStepLine(report: StepReport): string {
  const outcome = report.outcome.padEnd(outcomeWidth);
  const note = report.doFailed ? '  (its command failed, but the effect is present)' : '';
  return `  ${outcome} ${report.stepId.padEnd(26)} ${report.title}  (${report.durationMs} ms)${note}`;
}

/** Which check failed, what the probes found, and what to do next. */
export function formatFailure(failure: StepFailure, runId: string): string[] {
  const lines = [`step ${failure.stepId} failed: ${failure.title}`];
  lines.push(...formatDiagnosis(failure.check, failure.findings, '  ', 'see the journal for every command and its output'));
  lines.push(`next: fix the cause, then \`runbook resume ${runId}\`; or undo what this run did with \`runbook rollback ${runId}\``);
  lines.push(`      every command and its output: \`runbook journal ${runId}\``);
  return lines;
}

/**
 * The diagnosis of a step that does not hold: the check that failed and what it showed, then
 * the cause the first matching probe named, the line that shows it, and the fix. Shared by
 * `run` (formatFailure) and `check`.
 */
export function formatDiagnosis(check: FailedCheck | undefined, findings: readonly Finding[], indent: string, whenNoProbeMatched: string): string[] {
  const lines: string[] = [];
  if (check !== undefined) {
    lines.push(`${indent}check:    ${check.argv.join(' ')}`);
    lines.push(`${indent}result:   ${check.reason}${check.evidence ? ` — "${check.evidence}"` : ''}`);
  }
  const [finding] = findings;
  if (finding === undefined) {
    lines.push(`${indent}cause:    no diagnostic probe matched; ${whenNoProbeMatched}`);
  } else {
    lines.push(`${indent}cause:    ${finding.cause}`);
    lines.push(`${indent}evidence: ${finding.argv.join(' ')}${finding.evidence ? ` → "${finding.evidence}"` : ''}`);
    if (finding.fix !== undefined) lines.push(`${indent}fix:      ${finding.fix}`);
  }
  return lines;
}

/** A machine-readable event line for --json. */
export function jsonLine(event: Record<string, unknown>): string {
  return JSON.stringify(event);
}
