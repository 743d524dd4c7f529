import { planChanges, type ChangePlan } from '../../engine/plan-changes.js';
import { describePrecondition } from '../../engine/preconditions-refused.js';
import type { StepChange } from '../../engine/replacement.js';
import { createHostExecutor } from '../../host/host-executor.js';
import { toShellLine } from '../../text/shell-words.js';
import { ExitCode } from '../../errors.js';
import { currentHost } from '../../host/identity.js';
import { requireNetAdmin } from '../../host/privileges.js';
import { shadowingNote } from '../../runbook/locate.js';
import { prepareRunbookCached } from '../../runbook/prepare-cached.js';
import { advice, runbookCommand } from '../../suggestion.js';
import { defineCommand, runbookArgument, setOption } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { flag, type OptionsOf } from '../option-spec.js';
import { logCommand, logPlanSource } from '../output.js';
import type { Render } from '../render-advice.js';
import { afterInterrupt, withInterruptSignal } from '../signals.js';

const planOptions = {
  set: setOption('override a parameter (repeatable): the values the run would use'),
  json: flag('--json', 'print the plan as JSON'),
};

export type PlanOptions = OptionsOf<typeof planOptions>;

export const command = defineCommand({
  name: 'plan',
  description:
    'what `run` with these values would do here, before it changes anything: per step kept, new, replaced, redone or gone (against the runs of the runbook in effect), and the preconditions that would refuse it',
  arguments: [runbookArgument],
  options: planOptions,
  help: `
Nothing is changed: the journals are read, and only read-only checks run (whether a step holds
already, and the preconditions about the host as found). Each step is one of:
  keep     the run in effect made it with the same commands: kept, and taken over by the new run
  replace  its commands change: the old one is undone, the new one done (old and new shown)
  redo     the same commands, after a step that changes: undone and done again
  new      no run in effect has it
  gone     no longer in the runbook: undone
  check    a step that only checks (a ping): run again, never undone
Then what is undone of each earlier run, and every precondition that would refuse the run.`,
  examples: [
    [
      'sudo runbook plan single-container --set container_cidr=172.16.0.3/24 --set gateway=172.16.0.3',
      'what re-applying with these values would undo and do',
    ],
    [
      'sudo runbook plan multi-container --set count=2 --json | jq \'.steps[] | select(.action != "keep")\'',
      'the same, for a program',
    ],
  ],
  exitCodes: {
    ok: 'a run would go ahead (with --replace, if the plan undoes steps of an earlier run)',
    stepFailed:
      'a run would be refused: a precondition about this host does not hold, a program is missing, or a later run builds on what it would undo',
    invalidInput: 'invalid input (unknown runbook, bad parameter), or not root; nothing was checked',
    locked: null,
    interrupted: 'interrupted; nothing was changed',
  },
  // Reads the journals of the runs in effect to compare, and runs read-only checks (issue 23).
  stateDir: 'read',
  dueRuns: 'report',
  action: (ctx, [runbook], options) => planCommand(ctx, runbook, options),
});

/**
 * `runbook plan <runbook>` (issue 23): what `runbook run` with these values would do on this
 * host, compared with the runs of the runbook still in effect here, and every precondition about
 * the host that would refuse it. Changes nothing: reads the journals, runs read-only checks.
 * Exit 0 when a run would go ahead (with --replace if it replaces something), 1 when a run would
 * be refused (a precondition, a missing program, a later run in the way), 2 on invalid input.
 */
export async function planCommand(ctx: CliContext, runbookName: string, options: PlanOptions): Promise<number> {
  const inSandbox = currentHost().sandbox !== undefined;
  const prepared = await prepareRunbookCached(runbookName, options.set, { inSandbox, store: ctx.store });
  const shadowing = shadowingNote(runbookName);
  if (shadowing !== undefined) ctx.err(shadowing);
  const name = prepared.runbook.spec.name;
  // Whether a step holds already, and its preconditions, are read in the container's namespace
  // (`ip -n`), which needs CAP_NET_ADMIN: without it every such check would "fail".
  requireNetAdmin(
    `runbook plan ${name} (its checks read inside the container's namespace)`,
    advice`try again with sudo: ${{ ...runbookCommand('plan', runbookName), asRoot: true }}`,
  );
  logPlanSource(ctx, prepared.fromCache);
  const changes = await withInterruptSignal(
    ctx,
    (signal) =>
      planChanges({
        store: ctx.store,
        runbook: name,
        plan: prepared.plan,
        executor: createHostExecutor(),
        signal,
        onCommand: logCommand(ctx),
        onNote: (note) => ctx.err(`note: ${note}`),
      }),
    afterInterrupt.plan,
  );
  if (options.json) ctx.out(JSON.stringify(changePlanJson(changes), null, 2));
  else
    for (const line of formatChangePlan(changes, runCommandLine(runbookName, options.set, ctx.render))) ctx.out(line);
  return changes.wouldRefuse ? ExitCode.stepFailed : ExitCode.ok;
}

/** The plan as `plan --json` prints it (and `run --json` before refusing): docs/json-output.md. */
export function changePlanJson(changes: ChangePlan): Record<string, unknown> {
  return { event: 'plan', ...changes };
}

/** `runbook run NAME --set …`, as the user would type it again, where they are. */
export function runCommandLine(runbookName: string, set: readonly string[], render: Render): string {
  return render({ ...runbookCommand('run', runbookName, ...set.flatMap((s) => ['--set', s])), asRoot: true });
}

const actionWidth = 9;

/** The word for what happens to a step; a step that only checks is "check" unless it is gone. */
function actionWord(step: StepChange): string {
  if (step.checkOnly && step.action !== 'gone') return 'check';
  return step.action;
}

/**
 * The plan in words: what it is compared with, one line per step (with the commands of a
 * replaced one, old and new), what is undone and handed over, the preconditions, and what next.
 */
export function formatChangePlan(changes: ChangePlan, runLine: string): string[] {
  const lines: string[] = [];
  const against =
    changes.replaces.length === 0
      ? 'no run of it with other values is in effect here'
      : changes.replaces
          .map((r) => `run ${r.runId} (${r.status}${valuesChanged(r.params, changes.params)})`)
          .join('; ');
  lines.push(`plan ${changes.runbook} (${changes.steps.length} steps), against ${against}`);
  for (const step of changes.steps) {
    const note = step.action === 'gone' && !step.undone ? '  (nothing to undo: the run did not make it)' : '';
    lines.push(`  ${actionWord(step).padEnd(actionWidth)} ${step.stepId.padEnd(26)} ${step.title}${note}`);
    // A check's commands change with the values it checks (a ping's address): not worth a diff.
    if (step.change !== undefined && !step.checkOnly) {
      const indent = ' '.repeat(2 + actionWidth + 3);
      const what = step.change.phase === 'do' ? '' : ` (${step.change.phase})`;
      for (const argv of step.change.before) lines.push(`${indent}- ${toShellLine(argv)}${what}`);
      for (const argv of step.change.after) lines.push(`${indent}+ ${toShellLine(argv)}${what}`);
    }
  }
  for (const r of changes.replaces) {
    lines.push(
      `run ${r.runId}: ${r.undo.length === 0 ? 'nothing undone' : `${r.undo.length} step(s) undone, newest first (${r.undo.join(', ')})`}; ` +
        `${r.takeOver.length} handed over to the new run, which answers for them from then on`,
    );
  }
  if (changes.preconditions.length === 0 && changes.missingPrograms.length === 0) {
    lines.push('preconditions about this host: all hold');
  } else {
    lines.push('would be refused, nothing changed, by these preconditions about this host:');
    for (const failure of changes.preconditions) lines.push(`  - ${describePrecondition(failure)}`);
    if (changes.missingPrograms.length > 0)
      lines.push(`  - programs not found on PATH: ${changes.missingPrograms.join(', ')}`);
  }
  if (changes.blocked !== undefined) lines.push(`would be refused: ${changes.blocked}`);
  if (!changes.wouldRefuse)
    lines.push(
      changes.needsReplace
        ? `next: \`${runLine} --replace\` (without --replace, run refuses: it would undo steps of an earlier run)`
        : `next: \`${runLine}\``,
    );
  return lines;
}

/** ": container_cidr 172.16.0.2/24 → 172.16.0.3/24, gateway …", or "" when no value differs. */
function valuesChanged(before: Record<string, string>, after: Record<string, string>): string {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const changed = keys
    .filter((k) => before[k] !== after[k])
    .map((k) => `${k} ${before[k] ?? '(none)'} → ${after[k] ?? '(none)'}`);
  return changed.length === 0 ? '' : `: ${changed.join(', ')}`;
}
