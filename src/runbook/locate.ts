import { createHash } from 'node:crypto';
import { existsSync, lstatSync, statSync } from 'node:fs';
import path from 'node:path';
import { invalidInput } from '../errors.js';
import { untrustedPathReason } from '../trust/path-trust.js';
import { trustedUsers } from '../trust/trusted-users.js';
import { advice, runbookCommand } from '../suggestion.js';
import {
  findRunbook,
  findRunbooks,
  isEmbeddedFile,
  isRunbookFile,
  isShippedFile,
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
 * (so a runbook in ./runbooks can include a shipped one). Whatever an include finds is what
 * root runs, so it is believed only as a runbook found by name is (issue 22): a sibling that is
 * there at all (a file, a link, anything) must pass the trust rule, or the include is refused;
 * it never falls back to the search path because of what someone planted next to the runbook.
 */
export const readIncludeFromDisk: IncludeReader = (name, fromFile) => {
  const sibling = path.join(path.dirname(fromFile), `${name}.yaml`);
  const file = isThere(sibling) ? trustedInclude(sibling, name, fromFile) : findTrustedRunbook(name)?.file;
  if (file === undefined)
    throw invalidInput(`${fromFile}: includes "${name}", but ${sibling} does not exist (nor does a runbook "${name}")`);
  return { name, file, source: readRunbookText(file) };
};

/** Whether anything is at `file` (not following a last link: a dangling one is there too). */
function isThere(file: string): boolean {
  if (isEmbeddedFile(file)) return isRunbookFile(file);
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** An include found beside the runbook, if it may be believed; exit 2 if not. */
function trustedInclude(file: string, name: string, fromFile: string): string {
  // Beside a shipped runbook is the shipped dir: part of the code, trusted as much as it is.
  if (isShippedFile(file)) return file;
  const reason = untrustedPathReason(file, trustedUsers());
  if (reason !== undefined) throw refusal(`the include "${name}" of ${fromFile}, found beside it`, file, reason);
  return file;
}

/**
 * `NAME` is looked up on the search path (./runbooks, $RUNBOOK_PATH, the shipped runbooks);
 * anything with a slash or a .yaml/.yml ending is a path.
 */
export function resolveRunbookFile(nameOrPath: string): string {
  if (nameOrPath.trim() === '')
    throw invalidInput('the runbook name is empty', advice`list them with: ${runbookCommand('list')}`);
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

/**
 * The runbook file `run` and `check` execute: as resolveRunbookFile finds it, and refused
 * (exit 2, nothing run) unless it may be believed, whether found by name or given by path
 * (issue 22). `show` and `graph` run nothing: they show any file, so that it can be reviewed.
 */
export function resolveRunbookToRun(nameOrPath: string): string {
  const file = resolveRunbookFile(nameOrPath);
  if (isShippedFile(file)) return file;
  const reason = untrustedPathReason(file, trustedUsers());
  if (reason !== undefined) throw refusal(`runbook file ${file}`, file, reason);
  return file;
}

/** The runbook a name means, refused (exit 2, nothing done) if its file is not to be believed. */
function findTrustedRunbook(name: string) {
  const found = findRunbook(name);
  if (found === undefined) return undefined;
  const untrusted = untrustedReason(found);
  if (untrusted !== undefined)
    throw refusal(`runbook "${name}" found in ${found.origin} (${found.file})`, found.file, untrusted);
  return found;
}

/** The refusal of a runbook file root would run: what, why, and what to do. */
function refusal(what: string, file: string, reason: string) {
  return invalidInput(
    `refusing ${what}: ${reason}; whoever can change it could make runbook run any command as you; nothing was changed`,
    [
      ...advice`review it (${runbookCommand('show', file)}); if you trust it, copy it into a dir of your own and run that copy, `,
      `or make it and the dirs and links leading to it yours and writable by no one else (chown, chmod go-w); ` +
        `who is trusted: docs/how-it-works.md, "Trust"`,
    ],
  );
}

/**
 * One line saying that a runbook name means a file that hides others of that name further down
 * the search path (a ./runbooks file over a shipped runbook, say), or undefined. For `run`,
 * `check` and `show`, which say it before they use the file.
 */
export function shadowingNote(nameOrPath: string): string | undefined {
  const isPath = nameOrPath.includes('/') || /\.ya?ml$/.test(nameOrPath) || isEmbeddedFile(nameOrPath);
  if (isPath) return undefined;
  const found = findRunbook(nameOrPath);
  if (found === undefined || found.shadows.length === 0) return undefined;
  const hidden = found.shadows.map((s) => `${s.origin === 'shipped' ? 'the shipped one' : s.origin} (${s.file})`);
  return `note: runbook "${found.name}" is ${found.file} (${found.origin}), which shadows ${hidden.join(' and ')}`;
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
