import { checkRunbook, distinctCauses, type StepCheck } from '../../engine/check.js';
import { createHostExecutor } from '../../host/host-executor.js';
import { exitCodeFor } from '../../errors.js';
import { currentHost } from '../../host/identity.js';
import { shadowingNote } from '../../runbook/locate.js';
import { prepareRunbookCached } from '../../runbook/prepare-cached.js';
import { defineCommand, runbookArgument, setOption } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { flag, type OptionsOf } from '../option-spec.js';
import { formatDiagnosis, logCommand, logPlanSource } from '../output.js';
import { afterInterrupt, withInterruptSignal } from '../signals.js';
import { hostCommand, runbookCommand } from '../../suggestion.js';
import type { Render } from '../render-advice.js';

const checkOptions = {
  set: setOption('override a parameter (repeatable); use the values the run used'),
  json: flag('--json', 'print the check record (the line appended to <state-dir>/audit.ndjson) as JSON'),
};

export type CheckOptions = OptionsOf<typeof checkOptions>;

export const command = defineCommand({
  name: 'check',
  description:
    "check, read-only, that the host still holds what a runbook promises: every step's verify checks run, and a step that does not hold is diagnosed",
  arguments: [runbookArgument],
  options: checkOptions,
  help: `
Nothing is changed: only the verify checks and, for a step that does not hold, its diagnose
probes run (no do, no undo). Each step prints:
  ok       the step holds
  not ok   it does not; the check that failed, the cause the probes found, and the fix follow
Every check is recorded as one line of <state-dir>/audit.ndjson (time, user, host, runbook
hash, parameters, per-step results and findings). Needs CAP_NET_ADMIN for its pings.`,
  examples: [
    ['sudo runbook check single-container', 'does this host still hold part 1?'],
    ['sudo runbook check single-container --json', 'the same, as the JSON record it appends to audit.ndjson'],
    [
      'sudo runbook run single-container --until host-route && sudo runbook check single-container',
      "the tutorial's failed ping (step 9), diagnosed",
    ],
  ],
  exitCodes: {
    ok: 'every step holds',
    stepFailed: 'a step does not hold (the diagnosis says why)',
    invalidInput: 'invalid input (unknown runbook, bad parameter), or not root; nothing was checked',
    locked: null,
    interrupted: 'interrupted',
  },
  // Appends its record to audit.ndjson, and may cache the plan; changes nothing on the host.
  stateDir: 'write',
  needsRoot: 'net-admin',
  dueRuns: 'report',
  action: (ctx, [runbook], options) => checkCommand(ctx, runbook, options),
});

const verdictWidth = 8;

/**
 * `runbook check <runbook>`: runs every step's verify checks against the live host, and the
 * diagnose probes of each step that does not hold; changes nothing. Exit 0 when every step
 * holds, 1 otherwise. Each check is recorded as one line of `<state-dir>/audit.ndjson`.
 */
export async function checkCommand(ctx: CliContext, runbookName: string, options: CheckOptions): Promise<number> {
  const inSandbox = currentHost().sandbox !== undefined;
  // exit 2 on bad input
  const prepared = await prepareRunbookCached(runbookName, options.set, { inSandbox, store: ctx.store });
  const { runbook, params, plan } = prepared;
  const shadowing = shadowingNote(runbookName);
  if (shadowing !== undefined) ctx.err(shadowing);
  const name = runbook.spec.name;
  prepared.remember();
  logPlanSource(ctx, prepared.fromCache);

  if (!options.json) ctx.out(`check ${name}: ${plan.steps.length} steps, verify checks only (nothing is changed)`);
  const formatStep = stepCheckFormatter(ctx.render);
  const printStep = (step: StepCheck) => formatStep(step).forEach((line) => ctx.out(line));
  const executor = createHostExecutor();
  const result = await withInterruptSignal(
    ctx,
    (signal) =>
      checkRunbook({
        runbook,
        params,
        plan,
        store: ctx.store,
        executor,
        signal,
        onStep: options.json ? undefined : printStep,
        onCommand: logCommand(ctx),
      }),
    afterInterrupt.check,
  );

  if (options.json) {
    ctx.out(JSON.stringify(result.record, null, 2));
  } else {
    const repair = ctx.render(runbookCommand('run', runbookName, ...options.set.flatMap((s) => ['--set', s])));
    for (const line of formatSummary(result.steps, plan.steps.length, result.status, repair, ctx.render)) ctx.out(line);
    ctx.out(`recorded in ${result.auditFile}`);
  }
  return exitCodeFor(result.status);
}

/**
 * `ok` / `not ok` (as in TAP), the step, and for a step that does not hold, its diagnosis. Steps
 * come one by one; a cause already printed in full under an earlier step is only referred to.
 */
export function stepCheckFormatter(render: Render): (step: StepCheck) => string[] {
  const shownUnder = new Map<string, string>();
  return (step) => {
    const verdict = (step.ok ? 'ok' : 'not ok').padEnd(verdictWidth);
    // TAP's SKIP directive: a step whose `when:` does not hold is not checked (issue 28).
    const skip = step.skipped === undefined ? '' : `  # SKIP ${step.skipped}`;
    const lines = [`  ${verdict} ${step.stepId.padEnd(26)} ${step.title}  (${step.durationMs} ms)${skip}`];
    if (!step.ok) {
      const indent = ' '.repeat(2 + verdictWidth + 1 + 2);
      const earlier = new Map(step.findings.map((f) => [f.cause, shownUnder.get(f.cause)]));
      for (const f of step.findings) if (!shownUnder.has(f.cause)) shownUnder.set(f.cause, step.stepId);
      lines.push(
        ...formatDiagnosis(
          step.check,
          step.findings,
          indent,
          'run the check command by hand to see its output',
          render,
          (c) => earlier.get(c),
        ),
      );
    }
    return lines;
  };
}

/**
 * The verdict, then every distinct cause with its fix, in the order to apply them: the order of
 * the steps they first explain, which is the order the runbook builds things in (the host route
 * before the route back, say). Then what next.
 */
export function formatSummary(
  steps: readonly StepCheck[],
  total: number,
  status: 'ok' | 'not-ok' | 'interrupted',
  repair: string,
  render: Render,
): string[] {
  const failing = steps.filter((s) => !s.ok);
  if (status === 'interrupted') return [`interrupted after ${steps.length} of ${total} steps; nothing was changed`];
  if (status === 'ok') return [`ok: all ${total} steps hold`];
  const lines = [
    `not ok: ${failing.length} of ${total} steps do not hold (${failing.map((s) => s.stepId).join(', ')})`,
  ];
  const causes = distinctCauses(failing);
  const fixOf = (cause: string) => failing.flatMap((s) => s.findings).find((f) => f.cause === cause)?.fix;
  if (causes.length === 0) {
    lines.push('  cause:  no diagnostic probe matched');
  } else if (causes.length === 1) {
    const [cause] = causes as [string];
    const fix = fixOf(cause);
    lines.push(`  cause:  ${cause}`);
    if (fix !== undefined) lines.push(`  fix:    ${render(hostCommand(fix))}`);
  } else {
    lines.push(`  ${causes.length} causes; apply their fixes in this order:`);
    causes.forEach((cause, i) => {
      const fix = fixOf(cause);
      lines.push(`  ${i + 1}. cause: ${cause}`);
      if (fix !== undefined) lines.push(`     fix:   ${render(hostCommand(fix))}`);
    });
  }
  const fixes = causes.length > 1 ? 'the fixes, in this order' : 'the fix';
  lines.push(`next: apply ${fixes}, or let \`${repair}\` redo what is missing; then check again`);
  return lines;
}
