// `npm run bundle`: writes dist/runbook.mjs, runbook in one file (esbuild) that needs no
// node_modules: `node runbook.mjs …`, or copied to /usr/local/bin/runbook (it has a shebang).
// The shipped runbooks and the version are embedded (src/bundled.ts), since no package is
// around the file. It bundles bin/runbook.js, so it starts exactly as the installed command
// does (V8 flags first, then the CLI). Run `npm run build` first (`npm run bundle` does).
// `node scripts/bundle.mjs OUTFILE` writes elsewhere (the tests do).
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const outfile = path.resolve(process.argv[2] ?? path.join(root, 'dist', 'runbook.mjs'));

if (!existsSync(path.join(root, 'dist', 'cli', 'main.js'))) {
  console.error('bundle: dist/ is not built; run `npm run bundle` (which builds first) or `npm run build`');
  process.exit(1);
}

const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const runbooksDir = path.join(root, 'runbooks');
const runbooks = Object.fromEntries(
  readdirSync(runbooksDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => [f, readFileSync(path.join(runbooksDir, f), 'utf8')]),
);

const result = await build({
  entryPoints: [path.join(root, 'bin', 'runbook.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The facts src/bundled.ts reads, as a literal in the code.
  define: { RUNBOOK_BUNDLE: JSON.stringify({ version, runbooks }) },
  // CommonJS dependencies (pino, commander) require Node's built-ins; an ES module has no
  // `require` of its own, so the bundle makes one.
  banner: {
    js: "import { createRequire as __runbookRequire } from 'node:module';\nconst require = __runbookRequire(import.meta.url);",
  },
  legalComments: 'eof',
  logLevel: 'warning',
  metafile: true,
});

chmodSync(outfile, 0o755);
const bytes = Object.values(result.metafile.outputs)[0]?.bytes;
console.log(
  `bundle: wrote ${outfile} (${bytes === undefined ? '?' : `${Math.round(bytes / 1024)} KiB`}, runbook ${version}, ${Object.keys(runbooks).length} runbooks embedded)`,
);
