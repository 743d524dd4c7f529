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
  if (failure.check !== undefined) {
    lines.push(`  check:    ${failure.check.argv.join(' ')}`);
    lines.push(`  result:   ${failure.check.reason}${failure.check.evidence ? ` — "${failure.check.evidence}"` : ''}`);
  }
  const [finding] = failure.findings;
  if (finding === undefined) {
    lines.push('  cause:    no diagnostic probe matched; see the journal for every command and its output');
  } else {
    lines.push(`  cause:    ${finding.cause}`);
    lines.push(`  evidence: ${finding.argv.join(' ')}${finding.evidence ? ` → "${finding.evidence}"` : ''}`);
    if (finding.fix !== undefined) lines.push(`  fix:      ${finding.fix}`);
  }
  lines.push(`next: fix the cause, then \`runbook resume ${runId}\`; or undo what this run did with \`runbook rollback ${runId}\``);
  lines.push(`      every command and its output: \`runbook journal ${runId}\``);
  return lines;
}

/** A machine-readable event line for --json. */
export function jsonLine(event: Record<string, unknown>): string {
  return JSON.stringify(event);
}
