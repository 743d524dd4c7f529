/**
 * `npm run bench` (as root): prints the figures of docs/performance.md, each a
 * median over several rounds, each comparison a ratio measured side by side in the same run.
 * Real-kernel figures are taken in fresh sandbox hosts (unshare --net --mount): nothing here
 * touches this machine's own network.
 *
 * Each process figure is given twice: wall time, and CPU time (user + system of the whole process
 * tree, from getrusage of the children: bash's `times`, outside any pipe or subshell). On a shared, loaded machine the wall
 * time mostly measures the scheduler; CPU time is what the engine costs.
 *
 *   BENCH_ROUNDS=N     rounds per figure (default 3)
 *   BENCH_ONLY=a,b     only some sections: run, startup, engine, resume, scale, cni (the CNI
 *                      plugin beside the reference bridge plugin, at least 20 rounds: bench/cni.ts)
 *   BENCH_COUNTS=a,b   the multi-container counts of the scale section (default 1,10,50,100)
 *   BENCH_CLI=FILE     the runbook command to measure (default: this checkout's bin/runbook.js),
 *                      e.g. another checkout's, to compare two versions with the same bench
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { toShellLine } from '../src/text/shell-words.js';
import { journalFile } from '../src/journal/paths.js';
import { readJournal } from '../src/journal/reader.js';
import { listRunIndexes } from '../src/journal/run-index.js';
import { loadRunbook } from '../src/runbook/load.js';
import { resolveParams } from '../src/runbook/params.js';
import { renderPlan } from '../src/runbook/render.js';
import { cliPath, SandboxHost } from '../test/helpers/sandbox-host.js';
import { benchCni } from './cni.js';
import { measureEngineOverhead, measureWalkOverhead } from './engine-overhead.js';
import { measureResumeStartup } from './resume-startup.js';
import { fmt, median, printTable, type Row } from './stats.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const only = process.env.BENCH_ONLY?.split(',');
const wanted = (section: string) => only === undefined || only.includes(section);
const cli = process.env.BENCH_CLI ?? cliPath;
const rssHook = path.resolve(import.meta.dirname, 'report-rss.mjs');
const rows: Row[] = [];

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'runbook-bench-'));
}

interface Timing {
  /** Wall time, ms. */
  ms: number;
  /** CPU time (user + system) of the command and every process it started, ms. */
  cpuMs: number;
  stderr: string;
}

/**
 * Wall and CPU time of one command inside a sandbox host. The command runs under a bash that
 * prints `times` afterwards (its children's rusage: every process of the tree, reaped); the
 * nsenter and bash costs are the same for both sides of a comparison.
 */
async function timeIn(host: SandboxHost, argv: readonly string[]): Promise<Timing> {
  const wrapped = ['bash', '-c', '"$@" >/dev/null; s=$?; echo bench-times >&2; times >&2; exit $s', 'bench', ...argv];
  const started = performance.now();
  const result = await host.exec(wrapped, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeoutMs: 600_000 });
  const ms = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`${argv.join(' ')} failed (${result.exitCode}): ${result.stderr}`);
  const times = /bench-times\n.*\n(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(result.stderr);
  if (times === null) throw new Error(`no CPU times from ${argv.join(' ')}: ${result.stderr}`);
  const [, um, us, sm, ss] = times.map(Number) as [number, number, number, number, number];
  return { ms, cpuMs: (um * 60 + us + sm * 60 + ss) * 1000, stderr: result.stderr };
}

/** The same, inside a fresh sandbox host that is thrown away afterwards. */
async function timeInSandbox(argv: readonly string[]): Promise<Timing> {
  const host = await SandboxHost.create();
  try {
    return await timeIn(host, argv);
  } finally {
    host.dispose();
  }
}

function peakMib(stderr: string): number {
  return Number(/bench-max-rss-kib=(\d+)/.exec(stderr)?.[1] ?? NaN) / 1024;
}

/** A side-by-side comparison row: medians of wall and CPU, and their ratios. */
function ratioRows(what: string, ours: Timing[], theirs: Timing[], against: string, goal: number | undefined): void {
  const wall = median(ours.map((t) => t.ms)) / median(theirs.map((t) => t.ms));
  const cpu = median(ours.map((t) => t.cpuMs)) / median(theirs.map((t) => t.cpuMs));
  rows.push({
    what: `${what} vs ${against}: wall ms / CPU ms (medians)`,
    figure: `${fmt(median(ours.map((t) => t.ms)))} vs ${fmt(median(theirs.map((t) => t.ms)))} / ${fmt(median(ours.map((t) => t.cpuMs)))} vs ${fmt(median(theirs.map((t) => t.cpuMs)))}`,
    goal: '',
    met: undefined,
  });
  rows.push({
    what: `${what} / ${against}: wall ratio (CPU ratio)`,
    figure: `${fmt(wall, 2)}x (${fmt(cpu, 2)}x)`,
    goal: goal === undefined ? '' : `wall <= ${goal}x`,
    met: goal === undefined ? undefined : wall <= goal,
  });
}

/** The tutorial's part 1 as a plain shell script: the same commands as the runbook, no checks. */
function bareScript(): string {
  const runbook = loadRunbook('single-container');
  const plan = renderPlan(runbook.spec, resolveParams(runbook.spec, {}, runbook.file));
  const commands = plan.steps.flatMap((step) => (step.do.length > 0 ? step.do : step.verify)).map(bareLine);
  return ['set -e', ...commands].join('\n');
}

/** What an idempotent re-run checks, as a plain shell script: every step's verify commands. */
function bareChecks(): string {
  const runbook = loadRunbook('single-container');
  const plan = renderPlan(runbook.spec, resolveParams(runbook.spec, {}, runbook.file));
  return ['set -e', ...plan.steps.flatMap((step) => step.verify).map(bareLine)].join('\n');
}

/** A command as a shell line; a `read:` check as the `cat` a script would run for it. */
function bareLine(c: { argv: readonly string[]; read?: string | undefined }): string {
  return toShellLine(c.read === undefined ? c.argv : ['cat', c.read]);
}

/**
 * The commands a run journaled, and how many of them spawned a process (a `read:` check runs
 * none: its command-start carries `read`), from the latest run's journal in `stateDir`.
 */
function commandsOfLatestRun(stateDir: string): { journaled: number; spawned: number } {
  const runs = listRunIndexes(stateDir);
  const latest = runs[runs.length - 1];
  if (latest === undefined) return { journaled: NaN, spawned: NaN };
  const starts = readJournal(journalFile(stateDir, latest.id)).lines.filter((l) => l.type === 'command-start');
  return { journaled: starts.length, spawned: starts.filter((l) => l.read === undefined).length };
}

const playbook = path.resolve(import.meta.dirname, 'single-container.playbook.yml');

async function hasAnsible(): Promise<boolean> {
  return (await execa('ansible-playbook', ['--version'], { reject: false })).exitCode === 0;
}

async function benchRun(): Promise<void> {
  const ansible = await hasAnsible();
  console.log(
    `single-container vs the bare commands${ansible ? ' and Ansible' : ''}: ${rounds} alternating rounds, each in fresh sandbox hosts`,
  );
  const script = bareScript();
  const checks = bareChecks();
  const first: Timing[] = [];
  const bare: Timing[] = [];
  const rerun: Timing[] = [];
  const check: Timing[] = [];
  const bareCheck: Timing[] = [];
  const play: Timing[] = [];
  const playRerun: Timing[] = [];
  const rerunCommands: Array<{ journaled: number; spawned: number }> = [];
  const runbookArgv = (stateDir: string, verb: string) => [
    process.execPath,
    '--import',
    rssHook,
    cli,
    '--state-dir',
    stateDir,
    verb,
    'single-container',
  ];
  for (let round = 0; round < rounds; round++) {
    const stateDir = tempDir();
    const host = await SandboxHost.create();
    try {
      // Alternate which side goes first, so that neither always gets the warmer machine.
      const runbookSide = async () => {
        first.push(await timeIn(host, runbookArgv(stateDir, 'run')));
      };
      const bareSide = async () => {
        bare.push(await timeInSandbox(['bash', '-c', script]));
      };
      if (round % 2 === 0) {
        await runbookSide();
        await bareSide();
      } else {
        await bareSide();
        await runbookSide();
      }
      // Everything holds now: a re-run, `check` and the same checks as bare commands, in turn.
      const sides = [
        async () => rerun.push(await timeIn(host, runbookArgv(stateDir, 'run'))),
        async () => check.push(await timeIn(host, runbookArgv(stateDir, 'check'))),
        async () => bareCheck.push(await timeIn(host, ['bash', '-c', checks])),
      ];
      for (let i = 0; i < sides.length; i++) await (sides[(i + round) % sides.length] as () => Promise<number>)();
      // `check` journals no run: the latest run is the re-run.
      rerunCommands.push(commandsOfLatestRun(stateDir));
    } finally {
      host.dispose();
      rmSync(stateDir, { recursive: true, force: true });
    }
    if (ansible) {
      // The playbook on a fresh host (its first run), then again (idempotent, like the re-run).
      const playHost = await SandboxHost.create();
      try {
        const argv = ['ansible-playbook', '-i', 'localhost,', '-c', 'local', playbook];
        play.push(await timeIn(playHost, argv));
        playRerun.push(await timeIn(playHost, argv));
      } finally {
        playHost.dispose();
      }
    }
    const last = (list: Timing[]) => list[list.length - 1] as Timing;
    console.log(
      `  round ${round + 1}: run ${fmt(last(first).ms)} ms (cpu ${fmt(last(first).cpuMs)}), bare ${fmt(last(bare).ms)} (cpu ${fmt(last(bare).cpuMs)}); ` +
        `re-run ${fmt(last(rerun).ms)} (cpu ${fmt(last(rerun).cpuMs)}), check ${fmt(last(check).ms)} (cpu ${fmt(last(check).cpuMs)}), bare checks ${fmt(last(bareCheck).ms)} (cpu ${fmt(last(bareCheck).cpuMs)})` +
        (ansible
          ? `; ansible ${fmt(last(play).ms)} / re-run ${fmt(last(playRerun).ms)} (cpu ${fmt(last(play).cpuMs)} / ${fmt(last(playRerun).cpuMs)})`
          : ''),
    );
  }
  ratioRows('run single-container', first, bare, 'bare script', 3.0);
  ratioRows('re-run (all steps hold)', rerun, bareCheck, 'bare checks', 2.0);
  ratioRows('check', check, bareCheck, 'bare checks', 2.0);
  rows.push({
    what: 're-run: commands journaled / processes spawned (median)',
    figure: `${fmt(median(rerunCommands.map((c) => c.journaled)))} / ${fmt(median(rerunCommands.map((c) => c.spawned)))}`,
    goal: '',
    met: undefined,
  });
  const peak = median(first.map((t) => peakMib(t.stderr)));
  rows.push({ what: 'peak RSS of a single-container run (MiB)', figure: fmt(peak), goal: '<= 55', met: peak <= 55 });
  if (ansible) {
    const speedup = median(play.map((t) => t.ms)) / median(first.map((t) => t.ms));
    const rerunSpeedup = median(playRerun.map((t) => t.ms)) / median(rerun.map((t) => t.ms));
    rows.push({
      what: 'Ansible playbook (12 tasks): first run / re-run, wall ms (CPU ms)',
      figure: `${fmt(median(play.map((t) => t.ms)))} / ${fmt(median(playRerun.map((t) => t.ms)))} (${fmt(median(play.map((t) => t.cpuMs)))} / ${fmt(median(playRerun.map((t) => t.cpuMs)))})`,
      goal: '',
      met: undefined,
    });
    rows.push({
      what: 'runbook faster than Ansible: first run / re-run (wall)',
      figure: `${fmt(speedup, 1)}x / ${fmt(rerunSpeedup, 1)}x`,
      goal: '>= 10x',
      met: Math.min(speedup, rerunSpeedup) >= 10,
    });
  } else {
    console.log('  (ansible-playbook is not installed: the Ansible comparison is left out)');
  }
}

async function benchStartup(): Promise<void> {
  const n = Math.max(rounds * 5, 10);
  console.log(`start-up: runbook --version vs node -e 0, ${n} alternating rounds`);
  const version: Timing[] = [];
  const node: Timing[] = [];
  // Start-up touches no network: no sandbox needed, the same bash wrapper for CPU time.
  const time = async (args: string[]): Promise<Timing> => {
    const started = performance.now();
    const result = await execa('bash', [
      '-c',
      '"$@" >/dev/null; echo bench-times >&2; times >&2',
      'bench',
      process.execPath,
      ...args,
    ]);
    const ms = performance.now() - started;
    const times = /bench-times\n.*\n(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(result.stderr);
    const [, um, us, sm, ss] = (times ?? []).map(Number) as [number, number, number, number, number];
    return { ms, cpuMs: (um * 60 + us + sm * 60 + ss) * 1000, stderr: result.stderr };
  };
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      version.push(await time([cli, '--version']));
      node.push(await time(['-e', '0']));
    } else {
      node.push(await time(['-e', '0']));
      version.push(await time([cli, '--version']));
    }
  }
  ratioRows('start-up: runbook --version', version, node, 'node -e 0', 1.3);
}

async function benchEngine(): Promise<void> {
  console.log(`engine overhead per step, no-op executor, ${rounds} rounds per size (after one discarded warm-up run)`);
  await measureEngineOverhead(1_000, 'memory'); // let the JIT compile the engine's hot paths first
  for (const journal of ['memory', 'file'] as const) {
    const wall: number[] = [];
    const cpu: number[] = [];
    for (const steps of [100, 1_000, 10_000]) {
      const samples: { wallMs: number; cpuMs: number }[] = [];
      for (let round = 0; round < rounds; round++) samples.push(await measureEngineOverhead(steps, journal));
      wall.push(median(samples.map((s) => s.wallMs)));
      cpu.push(median(samples.map((s) => s.cpuMs)));
      console.log(
        `  ${journal} journal, ${steps} steps: ${fmt(wall[wall.length - 1] as number, 3)} ms/step wall, ${fmt(cpu[cpu.length - 1] as number, 3)} CPU`,
      );
    }
    const flat = Math.max(...cpu) / Math.min(...cpu);
    const label = journal === 'memory' ? 'engine only' : "engine + fsync'd journal";
    rows.push({
      what: `${label}: ms per step at 100 / 1k / 10k steps, wall (CPU)`,
      figure: wall.map((v, i) => `${fmt(v, 3)} (${fmt(cpu[i] as number, 3)})`).join(' / '),
      goal: journal === 'memory' ? 'CPU <= 0.3, flat' : '(journal cost, for information)',
      met: journal === 'memory' ? Math.max(...cpu) <= 0.3 && flat <= 1.5 : undefined,
    });
  }
  // Rollback and check walk the same steps with the same driver (issue 27): the same goal.
  for (const walk of ['undo', 'check'] as const) {
    await measureWalkOverhead(1_000, walk);
    const wall: number[] = [];
    const cpu: number[] = [];
    for (const steps of [100, 1_000, 10_000]) {
      const samples: { wallMs: number; cpuMs: number }[] = [];
      for (let round = 0; round < rounds; round++) samples.push(await measureWalkOverhead(steps, walk));
      wall.push(median(samples.map((s) => s.wallMs)));
      cpu.push(median(samples.map((s) => s.cpuMs)));
      console.log(
        `  ${walk}, ${steps} steps: ${fmt(wall[wall.length - 1] as number, 3)} ms/step wall, ${fmt(cpu[cpu.length - 1] as number, 3)} CPU`,
      );
    }
    const flat = Math.max(...cpu) / Math.min(...cpu);
    rows.push({
      what: `engine only, ${walk === 'undo' ? 'rollback' : 'check'}: ms per step at 100 / 1k / 10k steps, wall (CPU)`,
      figure: wall.map((v, i) => `${fmt(v, 3)} (${fmt(cpu[i] as number, 3)})`).join(' / '),
      goal: 'CPU <= 0.3, flat',
      met: Math.max(...cpu) <= 0.3 && flat <= 1.5,
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
  const counts = (process.env.BENCH_COUNTS ?? '1,10,50,100').split(',').map(Number);
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
        cli,
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
if (wanted('cni')) await benchCni(rows, rounds);
printTable(rows);
