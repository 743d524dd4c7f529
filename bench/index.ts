/**
 * `npm run bench` (as root): prints the figures of docs/performance.md, each a
 * median over several rounds, each comparison a ratio measured side by side in the same run.
 * Real-kernel figures are taken in fresh sandbox hosts (unshare --net --mount): nothing here
 * touches this machine's own network.
 *
 *   BENCH_ROUNDS=N     rounds per figure (default 3)
 *   BENCH_ONLY=a,b     only some sections: run, startup, engine, resume, scale
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { toShellLine } from '../src/exec/shell-words.js';
import { journalFile } from '../src/journal/paths.js';
import { listRunIndexes } from '../src/journal/run-index.js';
import { loadRunbook } from '../src/runbook/load.js';
import { resolveParams } from '../src/runbook/params.js';
import { renderPlan } from '../src/runbook/render.js';
import { cliPath, SandboxHost } from '../test/helpers/sandbox-host.js';
import { measureEngineOverhead } from './engine-overhead.js';
import { measureResumeStartup } from './resume-startup.js';
import { fmt, median, printTable, type Row } from './stats.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const only = process.env.BENCH_ONLY?.split(',');
const wanted = (section: string) => only === undefined || only.includes(section);
const rssHook = path.resolve(import.meta.dirname, 'report-rss.mjs');
const rows: Row[] = [];

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'runbook-bench-'));
}

/** Wall time of one command inside a fresh sandbox host (the nsenter cost is the same for both sides). */
async function timeInSandbox(argv: readonly string[]): Promise<{ ms: number; stderr: string }> {
  const host = await SandboxHost.create();
  try {
    const started = performance.now();
    const result = await host.exec(argv);
    const ms = performance.now() - started;
    if (result.exitCode !== 0) throw new Error(`${argv.join(' ')} failed (${result.exitCode}): ${result.stderr}`);
    return { ms, stderr: result.stderr };
  } finally {
    host.dispose();
  }
}

/** The tutorial's part 1 as a plain shell script: the same commands as the runbook, no checks. */
function bareScript(): string {
  const runbook = loadRunbook('single-container');
  const plan = renderPlan(runbook.spec, resolveParams(runbook.spec, {}, runbook.file));
  const commands = plan.steps
    .flatMap((step) => (step.do.length > 0 ? step.do : step.verify))
    .map((c) => toShellLine(c.argv));
  return ['set -e', ...commands].join('\n');
}

async function benchRun(): Promise<void> {
  console.log(`single-container vs the bare commands: ${rounds} alternating rounds, each in fresh sandbox hosts`);
  const script = bareScript();
  const engine: number[] = [];
  const bare: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const stateDir = tempDir();
    const runbookSide = () =>
      timeInSandbox([process.execPath, cliPath, '--state-dir', stateDir, 'run', 'single-container']);
    const bareSide = () => timeInSandbox(['bash', '-c', script]);
    // Alternate which side goes first, so that neither always gets the warmer machine.
    const [first, second] = round % 2 === 0 ? [runbookSide, bareSide] : [bareSide, runbookSide];
    const a = await first();
    const b = await second();
    engine.push((round % 2 === 0 ? a : b).ms);
    bare.push((round % 2 === 0 ? b : a).ms);
    rmSync(stateDir, { recursive: true, force: true });
    console.log(
      `  round ${round + 1}: runbook ${fmt(engine[round] as number)} ms, bare script ${fmt(bare[round] as number)} ms`,
    );
  }
  const ratio = median(engine) / median(bare);
  rows.push({
    what: 'run single-container (median ms)',
    figure: `${fmt(median(engine))} vs ${fmt(median(bare))} bare`,
    goal: '',
    met: undefined,
  });
  rows.push({
    what: 'run single-container / bare commands',
    figure: `${fmt(ratio, 2)}x`,
    goal: '<= 2.5x',
    met: ratio <= 2.5,
  });
}

async function benchStartup(): Promise<void> {
  const n = Math.max(rounds * 5, 10);
  console.log(`start-up: runbook --version vs node -e 0, ${n} alternating rounds`);
  const cli: number[] = [];
  const node: number[] = [];
  const time = async (args: string[]) => {
    const started = performance.now();
    await execa(process.execPath, args);
    return performance.now() - started;
  };
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      cli.push(await time([cliPath, '--version']));
      node.push(await time(['-e', '0']));
    } else {
      node.push(await time(['-e', '0']));
      cli.push(await time([cliPath, '--version']));
    }
  }
  const ratio = median(cli) / median(node);
  rows.push({
    what: 'start-up: runbook --version (median ms)',
    figure: `${fmt(median(cli))} vs ${fmt(median(node))} node -e 0`,
    goal: '',
    met: undefined,
  });
  rows.push({ what: 'start-up / node -e 0', figure: `${fmt(ratio, 2)}x`, goal: '<= 1.5x', met: ratio <= 1.5 });
}

async function benchEngine(): Promise<void> {
  console.log(`engine overhead per step, no-op executor, ${rounds} rounds per size (after one discarded warm-up run)`);
  await measureEngineOverhead(1_000, 'memory'); // let the JIT compile the engine's hot paths first
  for (const journal of ['memory', 'file'] as const) {
    const perStep: number[] = [];
    for (const steps of [100, 1_000, 10_000]) {
      const samples: number[] = [];
      for (let round = 0; round < rounds; round++) samples.push(await measureEngineOverhead(steps, journal));
      perStep.push(median(samples));
      console.log(`  ${journal} journal, ${steps} steps: ${fmt(median(samples), 3)} ms/step`);
    }
    const flat = Math.max(...perStep) / Math.min(...perStep);
    const label = journal === 'memory' ? 'engine only' : "engine + fsync'd journal";
    rows.push({
      what: `${label}: ms per step at 100 / 1k / 10k steps`,
      figure: perStep.map((v) => fmt(v, 3)).join(' / '),
      goal: journal === 'memory' ? '<= 0.3, flat' : '(journal cost, for information)',
      met: journal === 'memory' ? Math.max(...perStep) <= 0.3 && flat <= 1.5 : undefined,
    });
  }
}

async function benchResume(): Promise<void> {
  console.log(`resume start-up from a 10,000-entry journal, ${rounds} rounds`);
  const { entries, samples } = await measureResumeStartup(10_000, rounds);
  rows.push({
    what: `resume start-up, ${entries}-entry journal (median ms)`,
    figure: fmt(median(samples)),
    goal: '<= 150 ms',
    met: median(samples) <= 150,
  });
}

async function benchScale(): Promise<void> {
  const counts = [1, 10, 50, 100];
  console.log(`multi-container at count ${counts.join(', ')}: ${rounds} alternating rounds, fresh sandbox hosts`);
  const results = new Map<number, { ms: number[]; rssKib: number[]; journalBytes: number[] }>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? counts : [...counts].reverse();
    for (const count of order) {
      const stateDir = tempDir();
      const { ms, stderr } = await timeInSandbox([
        process.execPath,
        '--import',
        rssHook,
        cliPath,
        '--state-dir',
        stateDir,
        'run',
        'multi-container',
        '--set',
        `count=${count}`,
      ]);
      const rssKib = Number(/bench-max-rss-kib=(\d+)/.exec(stderr)?.[1] ?? NaN);
      const run = listRunIndexes(stateDir)[0];
      const journalBytes = run === undefined ? NaN : statSync(journalFile(stateDir, run.id)).size;
      rmSync(stateDir, { recursive: true, force: true });
      const r = results.get(count) ?? { ms: [], rssKib: [], journalBytes: [] };
      r.ms.push(ms);
      r.rssKib.push(rssKib);
      r.journalBytes.push(journalBytes);
      results.set(count, r);
      console.log(
        `  round ${round + 1}, count ${count}: ${fmt(ms / 1000, 2)} s, ${fmt(rssKib / 1024)} MiB peak, journal ${fmt(journalBytes / 1024)} KiB`,
      );
    }
  }
  for (const count of counts) {
    const r = results.get(count);
    if (r === undefined) continue;
    rows.push({
      what: `multi-container count=${count}: wall s / ms per container / peak MiB / journal KiB`,
      figure: `${fmt(median(r.ms) / 1000, 2)} / ${fmt(median(r.ms) / count, 0)} / ${fmt(median(r.rssKib) / 1024)} / ${fmt(median(r.journalBytes) / 1024)}`,
      goal: count === 100 ? 'peak <= 100 MiB; ms per container flat' : 'ms per container flat',
      met: count === 100 ? median(r.rssKib) / 1024 <= 100 : undefined,
    });
  }
}

if (process.getuid?.() !== 0) {
  console.error('npm run bench needs root: it creates sandbox hosts (unshare --net --mount)');
  process.exit(2);
}
if (wanted('startup')) await benchStartup();
if (wanted('engine')) await benchEngine();
if (wanted('resume')) await benchResume();
if (wanted('run')) await benchRun();
if (wanted('scale')) await benchScale();
printTable(rows);
