import type { PlannedCheck, PlannedCommand, PlannedProbe, PlannedStep } from '../plan/plan.js';
import { renderDeep, renderTemplate } from '../runbook/template.js';

/**
 * Values known only at run time (issue 28): what earlier steps export, filled into the commands,
 * checks and probes of the steps that use them just before they run. The plan (and a cached
 * plan) keeps the {{placeholders}}; only this module fills them, in one pass per text, so a value
 * is never read again as a placeholder.
 */

/** What the steps of a run have exported so far: step id → name → value. */
export type Exported = Map<string, Readonly<Record<string, string>>>;

/** Runtime values of one step: name → value. */
export type Values = Readonly<Record<string, string>>;

/**
 * The exported values a step uses, from the steps that export them; or why one is missing (its
 * step was skipped by its `when:`, or, in a journal, never recorded it).
 */
export function importedValues(
  step: Pick<PlannedStep, 'id' | 'imports'>,
  exported: ReadonlyMap<string, Values>,
  skipped: ReadonlySet<string> = new Set(),
): { values: Values } | { missing: string } {
  const values: Record<string, string> = {};
  for (const [name, from] of Object.entries(step.imports ?? {})) {
    const value = exported.get(from)?.[name];
    if (value === undefined) {
      const why = skipped.has(from)
        ? `step ${from} was skipped (its "when:" did not hold), so it exported nothing`
        : `step ${from} has not exported it`;
      return { missing: `did not run: it uses {{${name}}}, which step ${from} exports, but ${why}` };
    }
    values[name] = value;
  }
  return { values };
}

/** Fills runtime values into a command, its stdin and its condition. */
export function withValues<C extends PlannedCommand>(command: C, values: Values): C {
  if (Object.keys(values).length === 0) return command;
  const fill = (text: string) => renderTemplate(text, values, true);
  const read = command.read === undefined ? undefined : fill(command.read);
  return {
    ...command,
    argv: read === undefined ? command.argv.map(fill) : ['read', read],
    ...(read !== undefined && { read: checkedReadPath(read) }),
    ...(command.stdin !== undefined && { stdin: fill(command.stdin) }),
    ...(command.condition !== undefined && {
      condition: {
        ...command.condition,
        argv: command.condition.argv.map(fill),
        ...(command.condition.stdin !== undefined && { stdin: fill(command.condition.stdin) }),
        expect: renderDeep(command.condition.expect, values, false, true) as typeof command.condition.expect,
      },
    }),
  };
}

/** A check with runtime values: its command and its expectation (a value in `output_matches` matches itself). */
export function checkWithValues(check: PlannedCheck, values: Values): PlannedCheck {
  if (Object.keys(values).length === 0) return check;
  return {
    ...withValues(check, values),
    expect: renderDeep(check.expect, values, false, true) as PlannedCheck['expect'],
  };
}

/** A probe with runtime values: its command, `when`, cause and fix. */
export function probeWithValues(probe: PlannedProbe, values: Values): PlannedProbe {
  if (Object.keys(values).length === 0) return probe;
  return {
    ...withValues(probe, values),
    when: renderDeep(probe.when, values, false, true) as PlannedProbe['when'],
    cause: renderTemplate(probe.cause, values, true),
    fix: probe.fix === undefined ? undefined : renderTemplate(probe.fix, values, true),
  };
}

/**
 * A read's path once filled: still absolute, and with no ".." (an exported value cannot walk a
 * /proc/sys/net/… read out of its directory), as the renderer checks a path it can fill.
 */
function checkedReadPath(path: string): string {
  if (!path.startsWith('/') || path.split('/').includes('..'))
    throw new Error(`read: "${path}" is not an absolute path without ".."`);
  return path;
}
