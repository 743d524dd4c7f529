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

/** A value read just before `do` and journaled, for `undo` to use as {{name}}. */
export interface PlannedCapture extends PlannedCommand {
  name: string;
}

export interface PlannedStep {
  id: string;
  title: string;
  why: string;
  capture: readonly PlannedCapture[];
  /** Checks that must hold before `do` runs; when one does not, `do` does not run. */
  requires: readonly PlannedCheck[];
  do: readonly PlannedCommand[];
  verify: readonly PlannedCheck[];
  /** May still hold {{capture}} placeholders: rollback fills them from the journal. */
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
export type Phase = 'check' | 'requires' | 'capture' | 'do' | 'verify' | 'diagnose' | 'undo' | 'undo-check';

/** A command with no timeout of its own gets this one, so that nothing can hang a run. */
export const defaultTimeoutMs = 5_000;
