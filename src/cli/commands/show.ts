import { ExitCode } from '../../errors.js';
import { toShellLine } from '../../text/shell-words.js';
import { currentHost } from '../../host/identity.js';
import { shadowingNote } from '../../runbook/locate.js';
import { prepareRunbook } from '../../runbook/prepare.js';
import type { PlannedCapture, PlannedCheck, PlannedCommand } from '../../plan/plan.js';
import { defineCommand, runbookArgument, setOption } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { flag, type OptionsOf } from '../option-spec.js';

const showOptions = {
  set: setOption(),
  json: flag('--json', 'print the rendered plan as JSON'),
};

export const command = defineCommand({
  name: 'show',
  description: 'show a runbook: its parameters and every step with the exact commands it would run (nothing is run)',
  arguments: [runbookArgument],
  options: showOptions,
  stateDir: 'none',
  action: (ctx, [runbook], options) => showCommand(ctx, runbook, options),
});

/** `runbook show <runbook>`: parameters and every step's rendered commands; runs nothing. */
export function showCommand(ctx: CliContext, runbookName: string, options: OptionsOf<typeof showOptions>): number {
  // Inside a sandbox host, show the values a run there would use (sandbox defaults).
  const { runbook, params, plan } = prepareRunbook(runbookName, options.set, {
    inSandbox: currentHost().sandbox !== undefined,
  });
  const shadowing = shadowingNote(runbookName);
  if (shadowing !== undefined) ctx.err(shadowing);
  if (options.json) {
    ctx.out(JSON.stringify(plan, null, 2));
    return ExitCode.ok;
  }
  ctx.out(`${plan.runbook}: ${plan.description}`);
  ctx.out(`file: ${runbook.file}`);
  ctx.out('');
  ctx.out('parameters (override with --set key=value):');
  for (const [key, spec] of Object.entries(runbook.spec.parameters)) {
    ctx.out(
      `  ${key.padEnd(16)} = ${String(params[key]).padEnd(16)} ${spec.type}${spec.description ? ` — ${spec.description}` : ''}`,
    );
  }
  plan.steps.forEach((step, i) => {
    ctx.out('');
    ctx.out(`${i + 1}. ${step.id}: ${step.title}`);
    ctx.out(`   why: ${step.why}`);
    if (step.onlyIfCreatedBy !== undefined)
      ctx.out(
        `   only if this run created: ${step.onlyIfCreatedBy.join(', ')} (an object found in place is not changed)`,
      );
    for (const c of step.requires) ctx.out(`   requires: ${commandLine(c)}   expect ${JSON.stringify(c.expect)}`);
    for (const c of step.capture) ctx.out(`   capture ${c.name}: ${toShellLine(c.argv)}${captureNote(c)}`);
    for (const c of step.do) ctx.out(`   do:     ${commandLine(c)}`);
    for (const c of step.verify)
      ctx.out(`   verify: ${commandLine(c)}   expect ${JSON.stringify(c.expect)}${retryNote(c)}`);
    for (const c of step.undo) ctx.out(`   undo:   ${commandLine(c)}`);
    if (step.noUndo !== undefined) ctx.out(`   undo:   none (not undoable: ${step.noUndo})`);
    if (step.diagnose.length > 0) ctx.out(`   diagnose: ${step.diagnose.length} probe(s) on failure`);
  });
  return ExitCode.ok;
}

/**
 * A command as a person reads it: the command, then its stdin, ok_exit and condition; a
 * `read:` check as "read PATH", marked as read by runbook itself (no program runs).
 */
function commandLine(c: PlannedCommand): string {
  if (c.read !== undefined) return `read ${c.read}   (read in-process, no command runs)`;
  const notes = [
    c.stdin === undefined ? '' : ` <<< ${JSON.stringify(c.stdin)}`,
    c.okExit === undefined ? '' : `   (ok exit: ${c.okExit.join(', ')})`,
    c.condition === undefined
      ? ''
      : `   (${c.condition.runWhenHolds ? 'only if' : 'unless'}: ${toShellLine(c.condition.argv)} gives ${JSON.stringify(c.condition.expect)})`,
  ];
  return `${toShellLine(c.argv)}${notes.join('')}`;
}

function captureNote(c: PlannedCapture): string {
  if (c.json !== undefined) return `   (keeps the JSON field ${c.json})`;
  if (c.regex !== undefined) return `   (keeps the first group of /${c.regex}/)`;
  return c.trim === false ? '   (keeps the output exactly)' : '';
}

function retryNote(c: PlannedCheck): string {
  return c.retries === undefined || c.retries === 0
    ? ''
    : `   (up to ${c.retries} retries, ${(c.delayMs ?? 0) / 1000} s apart)`;
}
