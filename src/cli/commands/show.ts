import { ExitCode, RunbookError } from '../../errors.js';
import { toShellLine } from '../../text/shell-words.js';
import { currentHost } from '../../host/identity.js';
import { loadRunbook, type LoadedRunbook } from '../../runbook/load.js';
import { shadowingNote } from '../../runbook/locate.js';
import { defaultText } from '../../runbook/param-types.js';
import { prepareRunbook, type PreparedRunbook } from '../../runbook/prepare.js';
import type { ParamSpec } from '../../runbook/schema.js';
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

/**
 * `runbook show <runbook>`: parameters and every step's rendered commands; runs nothing. It
 * works anywhere, for any valid runbook (issue 28): a parameter with no value here (one with
 * only a `sandbox_default`, outside a sandbox host; one with no default at all) is shown with a
 * stand-in, and how to give it, rather than refused.
 */
export function showCommand(ctx: CliContext, runbookName: string, options: OptionsOf<typeof showOptions>): number {
  const inSandbox = currentHost().sandbox !== undefined;
  const standIns = new Map<string, string>();
  const standIn = (key: string, spec: ParamSpec): string => {
    const fallback = spec.sandbox_default === undefined ? undefined : defaultText(spec.sandbox_default);
    const value = typeof fallback === 'string' ? fallback : `{{${key}}}`;
    standIns.set(
      key,
      typeof fallback === 'string'
        ? `its sandbox default; outside a sandbox host give --set ${key}=…`
        : `no default: give --set ${key}=…`,
    );
    return value;
  };
  // Inside a sandbox host, show the values a run there would use (sandbox defaults).
  let prepared: PreparedRunbook;
  try {
    prepared = prepareRunbook(runbookName, options.set, { inSandbox, standIn });
  } catch (error) {
    // Steps whose ids or loops depend on a value not given cannot be listed: say which.
    if (
      !(error instanceof RunbookError && error.code === 'invalid-input') ||
      ![...standIns.values()].some((why) => why.startsWith('no default'))
    )
      throw error;
    const runbook = loadRunbook(runbookName);
    const missing = [...standIns].filter(([, why]) => why.startsWith('no default')).map(([key]) => key);
    showHeader(ctx, runbook.spec, runbook.file, {}, standIns);
    ctx.out('');
    ctx.out(
      `steps: they depend on ${missing.join(', ')}: give ${missing.map((k) => `--set ${k}=…`).join(' ')} to see them`,
    );
    return ExitCode.ok;
  }
  const { runbook, params, plan } = prepared;
  const shadowing = shadowingNote(runbookName);
  if (shadowing !== undefined) ctx.err(shadowing);
  if (options.json) {
    ctx.out(JSON.stringify(plan, null, 2));
    return ExitCode.ok;
  }
  showHeader(ctx, runbook.spec, runbook.file, params, standIns);
  plan.steps.forEach((step, i) => {
    ctx.out('');
    ctx.out(`${i + 1}. ${step.id}: ${step.title}`);
    ctx.out(`   why: ${step.why}`);
    if (step.onlyIfCreatedBy !== undefined)
      ctx.out(
        `   only if this run created: ${step.onlyIfCreatedBy.join(', ')} (an object found in place is not changed)`,
      );
    // Issue 28: the step's condition, and the values it uses from earlier steps.
    if (step.when !== undefined)
      ctx.out(`   when:   ${commandLine(step.when)}   expect ${JSON.stringify(step.when.expect)}   (else skipped)`);
    for (const [name, from] of Object.entries(step.imports ?? {}))
      ctx.out(`   uses:   {{${name}}}, exported by step ${from} (filled in when it runs)`);
    for (const c of step.requires)
      ctx.out(
        `   requires: ${commandLine(c)}   expect ${JSON.stringify(c.expect)}${c.preflight ? '   (checked before the run changes anything)' : ''}`,
      );
    for (const c of step.capture) ctx.out(`   capture ${c.name}: ${toShellLine(c.argv)}${captureNote(c)}`);
    for (const c of step.do) ctx.out(`   do:     ${commandLine(c)}`);
    for (const c of step.verify)
      ctx.out(`   verify: ${commandLine(c)}   expect ${JSON.stringify(c.expect)}${retryNote(c)}`);
    for (const c of step.undo) ctx.out(`   undo:   ${commandLine(c)}`);
    if (step.noUndo !== undefined) ctx.out(`   undo:   none (not undoable: ${step.noUndo})`);
    for (const c of step.export ?? [])
      ctx.out(
        `   export ${c.name}: ${toShellLine(c.argv)}${captureNote(c)}   (read once the step holds, for later steps)`,
      );
    if (step.diagnose.length > 0) ctx.out(`   diagnose: ${step.diagnose.length} probe(s) on failure`);
  });
  return ExitCode.ok;
}

/** The runbook's name, description, file, and parameters with their values (and stand-ins). */
function showHeader(
  ctx: CliContext,
  spec: LoadedRunbook['spec'],
  file: string,
  params: Readonly<Record<string, string>>,
  standIns: ReadonlyMap<string, string>,
): void {
  ctx.out(`${spec.name}: ${spec.description}`);
  ctx.out(`file: ${file}`);
  ctx.out('');
  ctx.out('parameters (override with --set key=value):');
  for (const [key, param] of Object.entries(spec.parameters)) {
    const why = standIns.get(key);
    const value = why?.startsWith('no default') ? '(none)' : String(params[key]);
    ctx.out(
      `  ${key.padEnd(16)} = ${value.padEnd(16)} ${param.type}${param.description ? ` — ${param.description}` : ''}${why === undefined ? '' : ` (${why})`}`,
    );
  }
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
