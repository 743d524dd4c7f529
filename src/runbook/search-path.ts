import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { bundled } from '../bundled.js';
import { envVar, processEnv } from '../env.js';
import { invalidInput } from '../errors.js';
import { untrustedPathReason } from '../trust/path-trust.js';
import { trustedUsers, type TrustedUsers } from '../trust/trusted-users.js';
import { packageRoot } from '../version.js';
import { readRunbookFile } from './runbook-text.js';

/** The environment variable listing extra runbook directories, colon-separated like $PATH. */
export const runbookPathEnvVar = envVar.runbookPath;

/**
 * Where the shipped runbooks are: runbooks/ in the package, or, in the one-file bundle, the
 * texts embedded in it, addressed as `bundled:runbooks/NAME.yaml` (what `show` prints and a
 * journal records as the file).
 */
export const shippedRunbooksDir = bundled ? 'bundled:runbooks' : path.join(packageRoot ?? '.', 'runbooks');

/** Where a runbook found by name comes from. */
export type RunbookOrigin = './runbooks' | typeof runbookPathEnvVar | 'shipped';

export interface SearchDir {
  dir: string;
  origin: RunbookOrigin;
}

/** A runbook name on the search path: the file that name means, and the files it shadows. */
export interface FoundRunbook {
  name: string;
  file: string;
  origin: RunbookOrigin;
  /** Files of the same name further down the search path, which this one hides. */
  shadows: Array<{ file: string; origin: RunbookOrigin }>;
}

/**
 * The current directory, or undefined when it was deleted: getcwd fails then (ENOENT), and
 * a runtime may start the CNI plugin from such a directory, which it never uses.
 */
function currentDirectory(): string | undefined {
  try {
    return process.cwd();
  } catch {
    return undefined;
  }
}

/**
 * The runbook search path, first match wins: ./runbooks of the current directory, then each dir
 * of $RUNBOOK_PATH, then the shipped runbooks. A dir that is the shipped one (runbook run from
 * its own checkout) counts once, as shipped. A relative $RUNBOOK_PATH entry is refused (exit
 * 2): it would name another dir in each directory runbook is run from (issue 22).
 */
export function runbookSearchPath(
  env: Readonly<Record<string, string | undefined>> = processEnv(),
  cwd = currentDirectory(),
): SearchDir[] {
  // A current directory deleted since (or moved away) has no ./runbooks: nothing to search there.
  const dirs: SearchDir[] = cwd === undefined ? [] : [{ dir: path.join(cwd, 'runbooks'), origin: './runbooks' }];
  for (const dir of (env[runbookPathEnvVar] ?? '').split(':')) {
    if (dir === '') continue;
    if (!path.isAbsolute(dir))
      throw invalidInput(
        `$${runbookPathEnvVar} holds a relative dir, "${dir}": it would mean another dir in each directory you run runbook from; nothing was changed`,
        `name it from the root: ${runbookPathEnvVar}=${path.resolve(cwd ?? '/', dir)} (or leave it out)`,
      );
    dirs.push({ dir: path.normalize(dir), origin: runbookPathEnvVar });
  }
  const shipped = realDir(shippedRunbooksDir);
  const seen = new Set<string>();
  const searched = dirs.filter(({ dir }) => {
    const real = realDir(dir);
    if (real === undefined || real === shipped || seen.has(real)) return false;
    seen.add(real);
    return true;
  });
  return [...searched, { dir: shippedRunbooksDir, origin: 'shipped' }];
}

/** Every runbook name on the search path, sorted, each with the file it means and what it shadows. */
export function findRunbooks(searchPath: readonly SearchDir[] = runbookSearchPath()): FoundRunbook[] {
  const byName = new Map<string, FoundRunbook>();
  for (const { dir, origin } of searchPath) {
    for (const name of runbookNamesIn(dir)) {
      const file = path.join(dir, `${name}.yaml`);
      const first = byName.get(name);
      if (first === undefined) byName.set(name, { name, file, origin, shadows: [] });
      else first.shadows.push({ file, origin });
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The file a runbook name means on the search path, or undefined. */
export function findRunbook(
  name: string,
  searchPath: readonly SearchDir[] = runbookSearchPath(),
): FoundRunbook | undefined {
  return findRunbooks(searchPath).find((r) => r.name === name);
}

/** Whether a file name is one of the bundle's embedded runbooks (`bundled:runbooks/NAME.yaml`). */
export function isEmbeddedFile(file: string): boolean {
  return embeddedName(file) !== undefined;
}

/** Whether a runbook file exists (in the bundle: is embedded). */
export function isRunbookFile(file: string): boolean {
  const embedded = embeddedName(file);
  if (embedded !== undefined) return bundled?.runbooks[embedded] !== undefined;
  return existsSync(file) && statSync(file).isFile();
}

/** The text of a runbook file (in the bundle: the embedded text); refused unless it is UTF-8 text of a runbook's size. */
export function readRunbookText(file: string): string {
  const embedded = embeddedName(file);
  if (embedded === undefined) return readRunbookFile(file);
  const text = bundled?.runbooks[embedded];
  if (text === undefined) throw invalidInput(`runbook file not found: ${file} (not in this bundle)`);
  return text;
}

/**
 * Why a runbook found by name outside the shipped ones must not be believed, or undefined if it
 * may. Such a file decides what root runs, and is picked by the current directory or the
 * environment, not named by the user: it, every directory above it and every link on the way
 * (the links' owners too) must be a trusted user's and writable by no one else
 * (src/trust/path-trust.ts). Otherwise `cd /tmp && sudo runbook run x` would run whatever
 * another user left in /tmp/runbooks/x.yaml. The shipped runbooks are part of the code, trusted
 * as much as it is.
 */
export function untrustedReason(found: FoundRunbook, users: TrustedUsers = trustedUsers()): string | undefined {
  if (found.origin === 'shipped') return undefined;
  return untrustedPathReason(found.file, users);
}

/**
 * Whether a file is one of the shipped runbooks, by its name (embedded, or in the package's
 * runbooks/ as the search path names it): never through a link someone could repoint.
 */
export function isShippedFile(file: string): boolean {
  return isEmbeddedFile(file) || path.dirname(path.resolve(file)) === path.resolve(shippedRunbooksDir);
}

function runbookNamesIn(dir: string): string[] {
  if (bundled && dir === shippedRunbooksDir) return yamlNames(Object.keys(bundled.runbooks));
  try {
    return yamlNames(readdirSync(dir));
  } catch {
    return []; // a search dir that does not exist (or cannot be read) adds nothing
  }
}

function yamlNames(files: readonly string[]): string[] {
  return files.filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length));
}

function embeddedName(file: string): string | undefined {
  const prefix = `${shippedRunbooksDir}/`;
  return bundled && file.startsWith(prefix) ? file.slice(prefix.length) : undefined;
}

function realDir(dir: string): string | undefined {
  try {
    return statSync(dir).isDirectory() ? realpathSync(dir) : undefined;
  } catch {
    return undefined;
  }
}
