/**
 * `npx tsx bench/confirm-revert.ts` (as root): how long after its deadline an unconfirmed
 * `run --confirm-within` is reverted (issues 15 and 24), from the run's journal: the deadline
 * in `confirm-pending`, the time of the automatic revert's `rollback-end`. Two paths, in fresh
 * sandbox hosts, single-container each round:
 *
 * - watchdog: the detached watchdog wakes at the deadline and reverts;
 * - timer: a systemd timer's service starts at the deadline and reverts (this machine has no
 *   systemd: a fake `systemd-run` on PATH records the command, and the bench starts it at the
 *   deadline as systemd would — the figure is runbook's share, from the service's start to the
 *   end of the revert, plus how late the bench's own timer fired).
 *
 * Nothing here touches this machine's own network. The figures are in docs/fleet.md.
 *
 *   BENCH_ROUNDS=N   rounds per path (default 3); medians reported
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { JournalLine } from '../src/journal/entries.js';
import { journalLines, journalIds, runIndex } from '../test/helpers/cli-harness.js';
import { SandboxHost } from '../test/helpers/sandbox-host.js';
import { removeDir, tempDir } from '../test/helpers/temp-dir.js';
import { fmt, median } from './stats.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const fakeSystemd = path.resolve(import.meta.dirname, '../test/fixtures/fake-systemd');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function entry<T extends JournalLine['type']>(
  stateDir: string,
  id: string,
  type: T,
): Extract<JournalLine, { type: T }> {
  const found = journalLines(stateDir, id)
    .filter((l): l is Extract<JournalLine, { type: T }> => l.type === type)
    .at(-1);
  if (found === undefined) throw new Error(`run ${id} has no ${type} entry`);
  return found;
}

/** ms from the deadline to the end of the automatic revert, by the journal's own times. */
function lateness(stateDir: string, id: string): number {
  const deadline = Date.parse(entry(stateDir, id, 'confirm-pending').deadline);
  const end = entry(stateDir, id, 'rollback-end');
  if (end.status !== 'rolled-back') throw new Error(`run ${id}: automatic revert ${end.status}`);
  return Date.parse(end.time) - deadline;
}

async function round(kind: 'watchdog' | 'timer'): Promise<number> {
  const host = await SandboxHost.create();
  const stateDir = tempDir('runbook-bench-revert-');
  const systemdDir = tempDir('runbook-bench-systemd-');
  const env: Record<string, string> =
    kind === 'timer'
      ? { PATH: `${fakeSystemd}:${process.env.PATH}`, FAKE_SYSTEMD_DIR: systemdDir, RUNBOOK_REVERT_GUARD: 'timer' }
      : { RUNBOOK_REVERT_GUARD: 'watchdog' };
  try {
    const run = await host.runbook(['--state-dir', stateDir, 'run', 'single-container', '--confirm-within', '4s'], {
      env,
    });
    if (run.exitCode !== 0) throw new Error(`run failed: ${run.stderr}`);
    const [id] = journalIds(stateDir) as [string];
    const deadline = Date.parse(entry(stateDir, id, 'confirm-pending').deadline);
    if (kind === 'timer') {
      const unit = readdirSync(systemdDir)
        .find((f) => f.endsWith('.argv'))
        ?.slice(0, -'.argv'.length) as string;
      const argv = readFileSync(path.join(systemdDir, `${unit}.argv`), 'utf8')
        .split('\0')
        .slice(0, -1);
      const setenv = Object.fromEntries(
        argv
          .filter((a) => a.startsWith('--setenv='))
          .map((a) => a.slice('--setenv='.length).split(/=(.*)/s).slice(0, 2)),
      );
      await sleep(Math.max(0, deadline - Date.now()));
      const fired = await host.exec(argv.slice(argv.indexOf('--') + 1), {
        env: { ...setenv, FAKE_SYSTEMD_DIR: systemdDir },
      });
      if (fired.exitCode !== 0) throw new Error(`the timer's revert failed: ${fired.stderr}`);
    } else {
      while (runIndex(stateDir, id)?.status !== 'reverted') {
        if (Date.now() > deadline + 60_000) throw new Error(`run ${id} was not reverted`);
        await sleep(50);
      }
    }
    return lateness(stateDir, id);
  } finally {
    host.dispose();
    removeDir(stateDir);
    removeDir(systemdDir);
  }
}

const figures: Record<'watchdog' | 'timer', number[]> = { watchdog: [], timer: [] };
for (let i = 0; i < rounds; i++) {
  for (const kind of ['watchdog', 'timer'] as const) figures[kind].push(await round(kind));
}
console.log(`revert after the deadline, median of ${rounds} rounds (single-container, 8 steps undone):`);
for (const kind of ['watchdog', 'timer'] as const)
  console.log(
    `  ${kind.padEnd(8)} ${fmt(median(figures[kind]) / 1000, 2)} s  (rounds: ${figures[kind].map((ms) => fmt(ms / 1000, 2)).join(', ')} s)`,
  );
