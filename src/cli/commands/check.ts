import { checkRunbook, distinctCauses, type StepCheck } from '../../engine/check.js';
import { createExecaExecutor } from '../../exec/execa-executor.js';
import { toShellLine } from '../../exec/shell-words.js';
import { exitCodeFor } from '../../errors.js';
import { currentHost } from '../../host/identity.js';
import { trustStateDir } from '../../journal/state-dir-trust.js';
import { requireNetAdmin } from '../../host/privileges.js';
import { prepareRunbook } from '../../runbook/prepare.js';
import type { CliContext } from '../context.js';
import { formatDiagnosis, logCommand } from '../output.js';
import { withInterruptSignal } from '../signals.js';

export interface CheckOptions {
  set: string[];
  json?: boolean;
}

const verdictWidth = 8;

/**
 * `runbook check <runbook>`: runs every step's verify checks against the live host, and the
 * diagnose probes of each step that does not hold; changes nothing. Exit 0 when every step
 * holds, 1 otherwise. Each check is recorded as one line of `<state-dir>/audit.ndjson`.
 */
export async function checkCommand(ctx: CliContext, runbookName: string, options: CheckOptions): Promise<number> {
  const inSandbox = currentHost().sandbox !== undefined;
  const { runbook, params, plan } = prepareRunbook(runbookName, options.set, { inSandbox }); // exit 2 on bad input
  const name = runbook.spec.name;
  // `ip` reads work unprivileged, but the ping checks enter the container's namespace
  // (`ip netns exec`), which needs CAP_NET_ADMIN: without it every ping would "fail" and the
  // diagnosis would be about permissions, not the network.
  requireNetAdmin(
    `runbook check ${name} (its ping checks enter the container's namespace with \`ip netns exec\`)`,
    `try again with sudo: sudo runbook check ${name}`,
  );
  trustStateDir(ctx.stateDir, 'write'); // the check is appended to its audit.ndjson

  if (!options.json) ctx.out(`check ${name}: ${plan.steps.length} steps, verify checks only (nothing is changed)`);
  const executor = createExecaExecutor();
  const result = await withInterruptSignal(ctx, (signal) =>
    checkRunbook({
      runbook,
      params,
      plan,
      stateDir: ctx.stateDir,
      executor,
      signal,
      onStep: options.json ? undefined : (step) => formatStepCheck(step).forEach((line) => ctx.out(line)),
      onCommand: logCommand(ctx),
    }),
  );

  if (options.json) {
    ctx.out(JSON.stringify(result.record, null, 2));
  } else {
    const repair = toShellLine(['runbook', 'run', runbookName, ...options.set.flatMap((s) => ['--set', s])]);
    for (const line of formatSummary(result.steps, plan.steps.length, result.status, repair)) ctx.out(line);
    ctx.out(`recorded in ${result.auditFile}`);
  }
  return exitCodeFor(result.status);
}

/** `ok` / `not ok` (as in TAP), the step, and for a step that does not hold, its diagnosis. */
export function formatStepCheck(step: StepCheck): string[] {
  const verdict = (step.ok ? 'ok' : 'not ok').padEnd(verdictWidth);
  const lines = [`  ${verdict} ${step.stepId.padEnd(26)} ${step.title}  (${step.durationMs} ms)`];
  if (!step.ok) {
    const indent = ' '.repeat(2 + verdictWidth + 1 + 2);
    lines.push(
      ...formatDiagnosis(step.check, step.findings, indent, 'run the check command by hand to see its output'),
    );
  }
  return lines;
}

/** The verdict, the distinct causes (several failing steps usually share one), and what next. */
export function formatSummary(
  steps: readonly StepCheck[],
  total: number,
  status: 'ok' | 'not-ok' | 'interrupted',
  repair: string,
): string[] {
  const failing = steps.filter((s) => !s.ok);
  if (status === 'interrupted') return [`interrupted after ${steps.length} of ${total} steps; nothing was changed`];
  if (status === 'ok') return [`ok: all ${total} steps hold`];
  const lines = [
    `not ok: ${failing.length} of ${total} steps do not hold (${failing.map((s) => s.stepId).join(', ')})`,
  ];
  const causes = distinctCauses(failing);
  if (causes.length === 0) {
    lines.push('  cause:  no diagnostic probe matched');
  } else {
    for (const cause of causes) {
      const finding = failing.flatMap((s) => s.findings).find((f) => f.cause === cause);
      lines.push(`  cause:  ${cause}`);
      if (finding?.fix !== undefined) lines.push(`  fix:    ${finding.fix}`);
    }
  }
  lines.push(`next: apply the fix, or let \`${repair}\` redo what is missing; then check again`);
  return lines;
}
