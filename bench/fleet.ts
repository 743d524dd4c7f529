/**
 * `npx tsx bench/fleet.ts` (as root, needs ansible-core and openssh-server): the wall time of
 * ansible-playbook applying single-container to a fleet of N sandbox hosts over real SSH
 * (test/fleet/fleet-hosts.ts), with the runbook module and with a plain 12-task playbook of
 * the same commands (bench/fleet/plain-single-container.yml), side by side, in fresh fleets.
 * Nothing here touches this machine's own network. The figures are in docs/fleet.md.
 *
 *   BENCH_ROUNDS=N         rounds per figure, each in fresh fleets (default 3); medians reported
 *   BENCH_FLEET_SIZES=a,b  fleet sizes (default 3,10)
 */
import path from 'node:path';
import { Fleet, repoRoot } from '../test/fleet/fleet-hosts.js';
import { fmt, median } from './stats.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const sizes = (process.env.BENCH_FLEET_SIZES ?? '3,10').split(',').map(Number);
const plain = path.join(repoRoot, 'bench', 'fleet', 'plain-single-container.yml');
const apply = path.join(repoRoot, 'test', 'fleet', 'apply.yml');

/** Wall time of one ansible-playbook against the fleet (every host at once: forks = N). */
async function timed(fleet: Fleet, playbook: string, args: readonly string[] = []): Promise<number> {
  const started = performance.now();
  const result = await fleet.ansible(['ansible-playbook', '-i', fleet.inventory, playbook, ...args]);
  const ms = performance.now() - started;
  if (result.exitCode !== 0) throw new Error(`${playbook} failed (exit ${result.exitCode}):\n${result.stdout}`);
  return ms;
}

interface Figures {
  plain: number[];
  first: number[];
  again: number[];
  check: number[];
}

async function measure(size: number): Promise<Figures> {
  const figures: Figures = { plain: [], first: [], again: [], check: [] };
  for (let round = 0; round < rounds; round++) {
    // A fresh fleet for each side, so that both start from the same bare hosts and cold SSH.
    const plainFleet = await Fleet.create(size);
    try {
      figures.plain.push(await timed(plainFleet, plain));
    } finally {
      await plainFleet.dispose();
    }
    const fleet = await Fleet.create(size);
    try {
      figures.first.push(await timed(fleet, apply));
      figures.again.push(await timed(fleet, apply));
      figures.check.push(await timed(fleet, apply, ['--check']));
    } finally {
      await fleet.dispose();
    }
  }
  return figures;
}

const s = (ms: number[]) => `${fmt(median(ms) / 1000, 2)} s`;
console.log(`fleet: ${rounds} round(s) per size, fresh fleets, medians`);
console.log('hosts | plain 12-task playbook (first apply) | runbook module: first apply | again (no change) | --check');
for (const size of sizes) {
  const f = await measure(size);
  console.log(`${size} | ${s(f.plain)} | ${s(f.first)} | ${s(f.again)} | ${s(f.check)}`);
}
