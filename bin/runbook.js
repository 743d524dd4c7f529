#!/usr/bin/env node
// The `runbook` command. The code lives in dist/ (compiled from src/ by `npm run build`,
// which `npm ci` runs through the `prepare` script).
import { setFlagsFromString } from 'node:v8';

// Keep the heap small rather than fast-growing: a 100-container run peaks at less than half
// the memory this way, at no measurable cost in time (see README, Performance).
setFlagsFromString('--optimize-for-size');
const { main } = await import('../dist/cli/main.js');

// `runbook … | head` closes the pipe early. Exiting then would stop a run between two
// commands, lock held; instead the output is dropped and the command finishes its work.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
  throw error;
});

process.exitCode = await main(process.argv.slice(2));
