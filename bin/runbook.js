#!/usr/bin/env node
// The `runbook` command. The code lives in dist/ (compiled from src/ by `npm run build`,
// which `npm ci` runs through the `prepare` script, and `npm pack` through `prepack`).
// scripts/bundle.mjs bundles this very file into dist/runbook.mjs, so both start alike.
import { statSync } from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';

// Keep the heap small rather than fast-growing: a 100-container run peaks at less than half
// the memory this way, at no measurable cost in time (see README, Performance).
setFlagsFromString('--optimize-for-size');
// No optimizing compiler (TurboFan): a run is short, and compiling hot code in the background
// cost more CPU than the optimized code saved — measured: re-run of single-container 405 → 335
// ms CPU, multi-container count=30 7.6 → 6.3–6.9 s CPU (docs/performance.md).
setFlagsFromString('--no-opt');

// Node >= 22.1 can cache the compiled code of the modules imported below, across runs. The
// cache lives with the code (its node_modules/.cache) and is used only by the code's owner:
// whoever can write a cache decides what runs, and root must not leave its files in a
// developer's checkout. Not in the bundle: it is one module, compiled before this line runs.
if (typeof RUNBOOK_BUNDLE === 'undefined' && typeof module.enableCompileCache === 'function') {
  const packageDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  if (statSync(packageDir).uid === process.getuid?.()) {
    module.enableCompileCache(path.join(packageDir, 'node_modules', '.cache', 'runbook-compile'));
  }
}

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const useBuiltBundle = typeof RUNBOOK_BUNDLE === 'undefined' && builtBundleIsCurrent();

// Installed under the name runbook-cni on a container runtime's CNI plugin path, this command is
// a CNI plugin (docs/cni.md): the runtime gives it no arguments, CNI_* variables and stdin.
const asCniPlugin = path.basename(process.argv[1] ?? '').startsWith('runbook-cni');
const { main, cniPluginMain } = asCniPlugin
  ? useBuiltBundle
    ? await import(pathToFileURL(path.join(dist, 'runbook-cni.mjs')).href)
    : await import('../dist/cli/cni-plugin.js')
  : useBuiltBundle
    ? await import(pathToFileURL(path.join(dist, 'runbook-cli.mjs')).href)
    : await import('../dist/cli/main.js');

/**
 * `npm run build` also bundles dist/ into dist/runbook-cli.mjs and its chunks
 * (scripts/bundle-dist.mjs): a few dozen files load much faster than a hundred modules. The
 * bundle is used only when it is at least as new as dist/cli/main.js, so that a tsc run alone
 * (without the bundling) never leaves this command running older code.
 */
function builtBundleIsCurrent() {
  try {
    return statSync(path.join(dist, 'runbook-cli.mjs')).mtimeMs >= statSync(path.join(dist, 'cli', 'main.js')).mtimeMs;
  } catch {
    return false;
  }
}

// `runbook … | head` closes the pipe early. Exiting then would stop a run between two
// commands, lock held; instead the output is dropped and the command finishes its work.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
  throw error;
});

process.exitCode = asCniPlugin ? await cniPluginMain() : await main(process.argv.slice(2));
