import { readEnv } from '../env.js';

/**
 * How large a runbook may be, read and rendered (issue 22, item 7). A runbook is a page or two;
 * the shipped ones are far below every limit (multi-container with count=250, the largest its
 * parameters allow, is 3,016 steps). Without limits, a typo (`--set count=20000000`) or a 430 KB
 * file whose YAML aliases expand to millions of probes ran for minutes and took gigabytes
 * before anything was refused. With them, such input is refused with exit 2 before it is
 * expanded, in the time it takes to read the file. docs/runbook-format.md lists them.
 */

/**
 * A runbook file's size in bytes (each included file counts on its own): 15 times the largest
 * shipped runbook. The YAML parser takes about a second per 150 KB on this kind of machine, so
 * this also bounds how long a file can take to be refused.
 */
export const maxRunbookBytes = 262_144;

/**
 * The values a runbook file's YAML holds once its aliases are expanded (every scalar, list and
 * map counts one). A shared probe list (`diagnose: *probes`) counts once per step that uses it.
 */
export const maxYamlNodes = 500_000;

/** One parameter value (`--set`, a default), in characters: far more than any name or address. */
export const maxValueChars = 65_536;

/**
 * One text once its {{placeholders}} are filled in (an argv element, a stdin, a title), in
 * characters. Linux refuses a longer argv element anyway (MAX_ARG_STRLEN, 128 KiB).
 */
export const maxRenderedChars = 131_071;

/** All the rendered text of one plan, in characters: what a plan may hold in memory. */
export const maxPlanChars = 100_000_000;

/** Steps once loops are expanded, unless `RUNBOOK_MAX_STEPS` says otherwise. */
export const defaultMaxSteps = 10_000;

/** Commands (do, verify, undo, requires, capture, probes) per step allowed, on average, within the step limit. */
export const commandsPerStep = 50;

/** What one plan may expand to. */
export interface PlanLimits {
  steps: number;
  /** Commands, all steps together. */
  commands: number;
  /** Loop iterations, all loops together: an iteration that makes no step still takes time. */
  iterations: number;
}

/**
 * The limits for this process: the step limit may be raised (or lowered) with
 * RUNBOOK_MAX_STEPS, for a runbook that really is that large; the others follow from it.
 */
export function planLimits(maxSteps = readEnv('maxSteps')): PlanLimits {
  const steps = maxSteps !== undefined && /^[1-9]\d{0,8}$/.test(maxSteps) ? Number(maxSteps) : defaultMaxSteps;
  return { steps, commands: steps * commandsPerStep, iterations: steps * 10 };
}

/** How to raise the step limit, for messages. */
export const raiseStepsHint = `a larger plan than that is almost always a mistake (a loop bound or a --set value); if it is not, raise the limit with RUNBOOK_MAX_STEPS=N`;
