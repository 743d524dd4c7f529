// Run by `npm run build` after tsc: bundles dist/cli/main.js into dist/runbook-cli.mjs plus a few
// chunks (esbuild, code splitting), which bin/runbook.js loads instead of the ~100 modules of
// dist/. Resolving, reading and compiling each module separately was the largest part of
// start-up (see docs/performance.md). Unlike the one-file bundle (scripts/bundle.mjs) it
// embeds nothing: the version, the shipped runbooks and pino for logs are read from the package
// as dist/ does, so a checkout and an installed package behave exactly as before. The chunks
// sit directly in dist/, so that `..` from them is the package root, as it is from dist/*.js.
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const dist = path.join(root, 'dist');

// Chunk names carry a content hash: drop the previous build's, never anything else.
for (const file of readdirSync(dist)) {
  if (/^runbook-(cli|cni)(-chunk-[A-Z0-9]+)?\.mjs(\.map)?$/.test(file)) rmSync(path.join(dist, file));
}

await build({
  // runbook-cni: the CNI plugin's entry (bin/runbook.js, installed as runbook-cni), sharing the chunks.
  entryPoints: {
    'runbook-cli': path.join(dist, 'cli', 'main.js'),
    'runbook-cni': path.join(dist, 'cli', 'cni-plugin.js'),
  },
  outdir: dist,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'runbook-cli-chunk-[hash]',
  bundle: true,
  splitting: true, // each command's module stays a lazy import, as in dist/ (see src/cli/main.ts)
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // CommonJS dependencies (pino, commander) require Node's built-ins; an ES module has no
  // `require` of its own, so the bundle makes one.
  banner: {
    js: "import { createRequire as __runbookRequire } from 'node:module';\nconst require = __runbookRequire(import.meta.url);",
  },
  legalComments: 'eof',
  logLevel: 'warning',
});
