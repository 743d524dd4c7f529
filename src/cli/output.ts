import type { CommandEvent } from '../engine/journaled-command.js';
import type { CliContext } from './context.js';
import type { FailedCheck, Finding } from '../engine/phases.js';
import type { StepReport, StepFailure } from '../engine/execute-steps.js';
import { hostCommand, runbookCommand } from '../suggestion.js';
import type { Render } from './render-advice.js';

/** Column widths for the per-step progress lines. */
const outcomeWidth = 8;

/** One line per finished step: outcome, id, title and duration. */
export function formatStepLine(report: StepReport): string {
  const outcome = report.outcome.padEnd(outcomeWidth);
  // Each note says only what is true of this outcome: only a changed step has its effect.
  const note = report.refused
    ? '  (its command did not run: see why below)'
    : report.skipReason !== undefined
      ? `  (${report.skipReason})`
      : !report.doFailed
        ? ''
        : report.outcome === 'changed'
          ? '  (its command failed, but the effect is present)'
          : '  (its command failed)';
  return `  ${outcome} ${report.stepId.padEnd(26)} ${report.title}  (${report.durationMs} ms)${note}`;
}

/** A step's `why`, wrapped under its progress line (run --explain). */
export function formatWhy(why: string, width = 100): string[] {
  const indent = ' '.repeat(2 + outcomeWidth + 1);
  const lines: string[] = [];
  let line = '';
  for (const word of why.split(/\s+/).filter(Boolean)) {
    if (line !== '' && indent.length + 5 + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines.map((l, i) => `${indent}${i === 0 ? 'why: ' : '     '}${l}`);
}

/** Which check failed, what the probes found, and what to do next. */
export function formatFailure(
  failure: StepFailure,
  runId: string,
  render: Render,
  next: NextSteps = 'resume-or-rollback',
): string[] {
  const undoneBy = failure.undoneBy;
  const lines =
    undoneBy === undefined
      ? [`step ${failure.stepId} failed: ${failure.title}`]
      : [
          `step ${failure.stepId} no longer holds at the end of the run (${failure.title}): a later step undid it`,
          undoneBy.length === 1
            ? `  undone by: step ${undoneBy[0]?.stepId} (${undoneBy[0]?.title}), the only step that changed the host after it`
            : `  undone by one of the steps that changed the host after it: ${undoneBy.map((s) => s.stepId).join(', ')}`,
        ];
  lines.push(
    ...formatDiagnosis(
      failure.check,
      failure.findings,
      '  ',
      'see the journal for every command and its output',
      render,
    ),
  );
  lines.push(...nextStepsHint(runId, next, render));
  return lines;
}

/**
 * What the user can do after a run stopped: resume or roll it back; nothing of the sort when
 * it is being rolled back already (--rollback-on-failure), or when its one-shot sandbox host
 * vanishes with the command.
 */
export type NextSteps = 'resume-or-rollback' | 'rolling-back' | 'one-shot-sandbox';

export function nextStepsHint(runId: string, next: NextSteps, render: Render): string[] {
  if (next === 'one-shot-sandbox')
    return ['next: this sandbox host vanishes when the command ends; fix the cause (runbook or --set) and run again'];
  const journal = `      every command and its output: \`${render(runbookCommand('journal', runId))}\``;
  if (next === 'rolling-back') return [journal];
  return [
    `next: fix the cause, then \`${render(runbookCommand('resume', runId))}\`; or undo what this run did with \`${render(runbookCommand('rollback', runId))}\``,
    journal,
  ];
}

/**
 * The diagnosis of a step that does not hold: the check that failed and what it showed, then
 * each cause the probes concerning the step named, with the line that shows it and the fix.
 * Shared by `run` (formatFailure) and `check`. A cause already printed in full under another
 * step (`shownUnder` says which) is named and referred to, not repeated.
 */
export function formatDiagnosis(
  check: FailedCheck | undefined,
  findings: readonly Finding[],
  indent: string,
  whenNoProbeMatched: string,
  render: Render,
  shownUnder: (cause: string) => string | undefined = () => undefined,
): string[] {
  const lines: string[] = [];
  if (check !== undefined) {
    // A refusal by only_if_created_by ran no command: its result says it all.
    if (check.argv.length > 0) lines.push(`${indent}check:    ${check.argv.join(' ')}`);
    lines.push(`${indent}result:   ${check.reason}${check.evidence ? ` — "${check.evidence}"` : ''}`);
  }
  if (findings.length === 0) lines.push(`${indent}cause:    no diagnostic probe matched; ${whenNoProbeMatched}`);
  for (const finding of findings) {
    const earlier = shownUnder(finding.cause);
    if (earlier !== undefined) {
      lines.push(`${indent}cause:    ${finding.cause} (evidence and fix: under ${earlier} above)`);
      continue;
    }
    lines.push(`${indent}cause:    ${finding.cause}`);
    lines.push(`${indent}evidence: ${finding.argv.join(' ')}${finding.evidence ? ` → "${finding.evidence}"` : ''}`);
    if (finding.fix !== undefined) lines.push(`${indent}fix:      ${render(hostCommand(finding.fix))}`);
  }
  return lines;
}

/** A machine-readable event line for --json. */
export function jsonLine(event: Record<string, unknown>): string {
  return JSON.stringify(event);
}

/** The operational log line for each command (with --verbose): step, phase, argv, exit code. */
export function logCommand(ctx: CliContext): ((event: CommandEvent) => void) | undefined {
  // Not even created otherwise: the logger loads pino, which a run at the default level never needs.
  if (!ctx.debugEnabled) return undefined;
  return (event) =>
    ctx.logger.debug(
      { step: event.stepId, phase: event.phase, argv: event.argv, exitCode: event.result.exitCode },
      'command',
    );
}

/** With --verbose: whether the plan was read back from the plan cache or parsed from the runbook. */
export function logPlanSource(ctx: CliContext, fromCache: boolean): void {
  if (ctx.debugEnabled)
    ctx.logger.debug(
      { planCache: fromCache ? 'hit' : 'miss' },
      fromCache ? 'plan read from <state-dir>/plans' : 'runbook parsed and validated',
    );
}
