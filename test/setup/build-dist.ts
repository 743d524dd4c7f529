import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Global setup of the tiers that run the built CLI (kernel, crash): rebuilds dist/ when any
 * src/ file (or the tsconfig) is newer than its compiled file, so that a single-file run
 * (`npx vitest run test/integration/x.test.ts`) never tests a stale build. A current dist/ is
 * left alone, so the second tier of `npm test` does not build again.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function setup(): void {
  const stale = staleOutput();
  if (stale === undefined) return;
  console.log(`dist/ is stale (${stale}): building`);
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript7/bin/tsc'), '-p', 'tsconfig.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  // As `npm run build` does: bin/runbook.js runs the bundle when it is current, so test that.
  execFileSync(process.execPath, [path.join(root, 'scripts/bundle-dist.mjs')], { cwd: root, stdio: 'inherit' });
}

/** The first source whose compiled file is missing or older than it (or the tsconfig), else undefined. */
function staleOutput(): string | undefined {
  const tsconfig = statSync(path.join(root, 'tsconfig.json')).mtimeMs;
  for (const source of sources(path.join(root, 'src'))) {
    const relative = path.relative(path.join(root, 'src'), source);
    const output = path.join(root, 'dist', relative.replace(/\.ts$/, '.js'));
    if (!existsSync(output)) return `${relative} was never built`;
    const built = statSync(output).mtimeMs;
    if (built < statSync(source).mtimeMs) return `${relative} changed`;
    if (built < tsconfig) return 'tsconfig.json changed';
  }
  return undefined;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}
