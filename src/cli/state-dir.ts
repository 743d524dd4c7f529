import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { envVar } from '../env.js';
import { invalidInput } from '../errors.js';
import { packageRoot } from '../version.js';

/** The environment variable that names the state dir when `--state-dir` is not given. */
export const stateDirEnvVar = envVar.stateDir;

/** Root's state dir when runbook is installed (not run from a checkout): the FHS place for it. */
export const rootStateDir = '/var/lib/runbook';

/** What the default state dir depends on; the running process's by default, any in tests. */
export interface StateDirFacts {
  env: Readonly<Record<string, string | undefined>>;
  uid: number;
  home: () => string;
  /** The git checkout runbook runs from, if it does (its package root has a `.git`). */
  checkout: string | undefined;
}

/**
 * Where runs and journals are kept: `--state-dir`, else $RUNBOOK_STATE_DIR, else state/ of the
 * git checkout runbook runs from, else /var/lib/runbook for root, else $XDG_STATE_HOME/runbook
 * (~/.local/state/runbook). An installed package never keeps state inside itself (issue 13).
 * An empty `--state-dir` or $RUNBOOK_STATE_DIR is refused: it would silently mean the current
 * directory (or, unset by mistake in a script, another dir than the one meant).
 */
export function resolveStateDir(option: string | undefined, facts: StateDirFacts = currentFacts()): string {
  if (option !== undefined) return path.resolve(nonEmpty(option, '--state-dir'));
  const fromEnv = facts.env[stateDirEnvVar];
  if (fromEnv !== undefined) return path.resolve(nonEmpty(fromEnv, stateDirEnvVar));
  return defaultStateDir(facts);
}

/** The state dir when neither `--state-dir` nor $RUNBOOK_STATE_DIR says one. */
export function defaultStateDir(facts: StateDirFacts = currentFacts()): string {
  if (facts.checkout !== undefined) return path.join(facts.checkout, 'state');
  if (facts.uid === 0) return rootStateDir;
  // The XDG base directory spec: an unset, empty or relative $XDG_STATE_HOME is ignored.
  const xdg = facts.env.XDG_STATE_HOME;
  const stateHome = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(facts.home(), '.local', 'state');
  return path.join(stateHome, 'runbook');
}

/**
 * The state dir a user has outside any checkout (/var/lib/runbook for root): offered when the
 * one in use is refused, e.g. the state/ of a checkout someone else owns (src/store/).
 */
export function ownStateDir(facts: StateDirFacts = currentFacts()): string {
  return defaultStateDir({ ...facts, checkout: undefined });
}

/** How the help text describes the default, one line. */
export const stateDirDefaultHelp = `env ${stateDirEnvVar}; default: state/ in a git checkout, else ${rootStateDir} for root, else $XDG_STATE_HOME/runbook (~/.local/state/runbook)`;

function nonEmpty(value: string, where: string): string {
  if (value.trim() === '')
    throw invalidInput(
      `${where} is empty; it must name the directory where runs and journals are kept; nothing was changed`,
      `give a directory, e.g. --state-dir ./state, or leave it out for the default (${where === stateDirEnvVar ? `unset ${stateDirEnvVar}` : 'see runbook --help'})`,
    );
  return value;
}

function currentFacts(): StateDirFacts {
  return {
    env: process.env,
    uid: process.getuid?.() ?? -1,
    home: homedir,
    checkout: packageRoot !== undefined && existsSync(path.join(packageRoot, '.git')) ? packageRoot : undefined,
  };
}
