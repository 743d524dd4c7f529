import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { bundled } from './bundled.js';

/**
 * The package root (a checkout, or the installed package), found from this file's place in
 * `dist/` or `src/`. Undefined in the one-file bundle, which has no package around it.
 */
export const packageRoot: string | undefined = bundled
  ? undefined
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The engine version recorded in every journal, read once from package.json (or the bundle). */
export const engineVersion: string =
  bundled?.version ??
  (JSON.parse(readFileSync(path.join(packageRoot ?? '.', 'package.json'), 'utf8')) as { version: string }).version;
