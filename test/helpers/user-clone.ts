import { chmodSync, cpSync, lchownSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './temp-dir.js';

/** This checkout: what a clone is made from. */
const checkout = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Users no one has here: a learner with a clone, and a third user (tests run as root). */
export const learner = 4242;
export const thirdUser = 4343;

export interface UserClone {
  /** The clone's dir (its package root), owned by `owner`. */
  dir: string;
  /** Its CLI, as `sudo runbook` would run it. */
  cliPath: string;
  /** Its default state dir: state/ in it, as git leaves it (0755, the owner's). */
  stateDir: string;
}

/**
 * A built clone of runbook owned by `owner`, as a user has one after `git clone` and `npm ci`
 * (issue 22, item 3): package.json, bin/, dist/, runbooks/ and state/ (with its README) copied
 * and given to `owner`, a `.git` (so the CLI knows it runs from a checkout), and node_modules
 * linked to this checkout's (code root only reads). Removed with removeDir(clone.dir).
 */
export function userClone(owner: number): UserClone {
  const dir = tempDir('runbook-clone-');
  for (const part of ['package.json', 'bin', 'dist', 'runbooks'])
    cpSync(path.join(checkout, part), path.join(dir, part), { recursive: true, preserveTimestamps: true });
  mkdirSync(path.join(dir, '.git'));
  symlinkSync(path.join(checkout, 'node_modules'), path.join(dir, 'node_modules'));
  // What git tracks in state/ (the checkout's own may hold runs made in it).
  mkdirSync(path.join(dir, 'state'));
  cpSync(path.join(checkout, 'state', 'README.md'), path.join(dir, 'state', 'README.md'));
  chownTree(dir, owner);
  chmodSync(dir, 0o755);
  chmodSync(path.join(dir, 'state'), 0o755);
  return { dir, cliPath: path.join(dir, 'bin', 'runbook.js'), stateDir: path.join(dir, 'state') };
}

function chownTree(at: string, owner: number): void {
  lchownSync(at, owner, owner);
  if (at.endsWith('node_modules')) return; // the link itself, not what it points to
  let names: string[];
  try {
    names = readdirSync(at);
  } catch {
    return; // a file
  }
  for (const name of names) chownTree(path.join(at, name), owner);
}
