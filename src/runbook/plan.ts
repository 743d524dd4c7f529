import type { ExpectSpec } from './schema.js';
import type { ParamValues } from './params.js';

/**
 * A plan is a runbook with its parameters substituted: every command is a concrete argv.
 * The engine only ever sees plans; it knows nothing about YAML or placeholders.
 */
export interface PlannedCommand {
  argv: readonly string[];
  timeoutMs: number;
}

export interface PlannedCheck extends PlannedCommand {
  expect: ExpectSpec;
}

export interface PlannedProbe extends PlannedCommand {
  when: ExpectSpec;
  cause: string;
  fix: string | undefined;
}

export interface PlannedStep {
  id: string;
  title: string;
  why: string;
  do: readonly PlannedCommand[];
  verify: readonly PlannedCheck[];
  undo: readonly PlannedCommand[];
  diagnose: readonly PlannedProbe[];
}

export interface Plan {
  runbook: string;
  description: string;
  params: ParamValues;
  steps: readonly PlannedStep[];
}

/** The phases in which a step runs commands; each is journaled under this name. */
export type Phase = 'check' | 'do' | 'verify' | 'diagnose' | 'undo' | 'undo-check';

/** A command with no timeout of its own gets this one, so that nothing can hang a run. */
export const defaultTimeoutMs = 5_000;
