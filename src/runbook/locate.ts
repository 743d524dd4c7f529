import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { invalidInput } from '../errors.js';
import { forUser } from '../host/user-command.js';
import {
  findRunbook,
  findRunbooks,
  isEmbeddedFile,
  isRunbookFile,
  readRunbookText,
  runbookPathEnvVar,
  untrustedReason,
} from './search-path.js';

/*
 * Which file a runbook name (or an include) means, and its text: the part of loading that needs
 * no YAML parser, so that a run whose plan is cached (plan-cache.ts) never loads one.
 */

/** The text of one runbook file, as read. */
export interface RunbookSource {
  name: string;
  file: string;
  source: string;
}

/** Finds the text of an included runbook, given the file that includes it. */
export type IncludeReader = (name: string, fromFile: string) => RunbookSource;

/**
 * Includes are sibling files first: `include: multi-container` in runbooks/x.yaml is
 * runbooks/multi-container.yaml; a name with no sibling is looked up like `runbook run NAME`
 * (so a runbook in ./runbooks can include a shipped one).
 */
export const readIncludeFromDisk: IncludeReader = (name, fromFile) => {
  const sibling = path.join(path.dirname(fromFile), `${name}.yaml`);
  const file = isRunbookFile(sibling) ? sibling : findTrustedRunbook(name)?.file;
  if (file === undefined)
    throw invalidInput(`${fromFile}: includes "${name}", but ${sibling} does not exist (nor does a runbook "${name}")`);
  return { name, file, source: readRunbookText(file) };
};

/**
 * `NAME` is looked up on the search path (./runbooks, $RUNBOOK_PATH, the shipped runbooks);
 * anything with a slash or a .yaml/.yml ending is a path.
 */
export function resolveRunbookFile(nameOrPath: string): string {
  if (nameOrPath.trim() === '')
    throw invalidInput('the runbook name is empty', `list them with: ${forUser('runbook list')}`);
  // In the bundle, a shipped runbook's file is `bundled:runbooks/NAME.yaml` (as a journal records it).
  if (isEmbeddedFile(nameOrPath)) {
    if (!isRunbookFile(nameOrPath)) throw invalidInput(`runbook file not found: ${nameOrPath} (not in this bundle)`);
    return nameOrPath;
  }
  const isPath = nameOrPath.includes('/') || /\.ya?ml$/.test(nameOrPath);
  if (!isPath) {
    const found = findTrustedRunbook(nameOrPath);
    if (found === undefined)
      throw invalidInput(
        `unknown runbook "${nameOrPath}" (not in ./runbooks, $${runbookPathEnvVar} or the shipped runbooks)`,
        `available: ${listRunbookNames().join(', ')}`,
      );
    return found.file;
  }
  const file = path.resolve(nameOrPath);
  if (existsSync(file) && !statSync(file).isFile())
    throw invalidInput(`not a runbook file: ${file} is a directory or a device`);
  if (!existsSync(file)) throw invalidInput(`runbook file not found: ${file}`);
  return file;
}

/** The runbook a name means, refused (exit 2, nothing done) if its file is not to be believed. */
function findTrustedRunbook(name: string) {
  const found = findRunbook(name);
  if (found === undefined) return undefined;
  const untrusted = untrustedReason(found);
  if (untrusted !== undefined)
    throw invalidInput(
      `refusing runbook "${name}" found in ${found.origin} (${found.file}): ${untrusted}; nothing was changed`,
      'make it yours and not writable by others (chown, chmod go-w), or give its path explicitly',
    );
  return found;
}

export function listRunbookNames(): string[] {
  return findRunbooks().map((r) => r.name);
}

/** sha256 over the text of a runbook file and of its includes, in order: `LoadedRunbook.hash`. */
export function runbookTextsHash(source: string, includes: readonly RunbookSource[]): string {
  const hash = createHash('sha256');
  for (const text of [source, ...includes.map((i) => i.source)]) hash.update(text).update('\0');
  return hash.digest('hex');
}
