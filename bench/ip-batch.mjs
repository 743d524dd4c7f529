// Issue 16, "fewer processes per step": what would one `ip -batch -` save over N `ip` spawns?
// Run as root: `node bench/ip-batch.mjs` (it re-runs itself in a fresh network namespace with
// `unshare --net`, so every `ip` reads a throwaway namespace, never this machine's). It spawns,
// from Node with child_process as src/exec/fast-spawn.ts does, N read-only `ip` commands one by
// one, then the same N lines as one `ip -j -force -batch -`, and prints per round: wall time,
// the CPU of the children (cutime + cstime of /proc/self/stat) and of Node itself. Medians of 3
// series of ROUNDS rounds, for N = 1, 3 and 7 (env N=… to choose one). Results: docs/performance.md.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

if (process.argv[2] !== '--inside') {
  const self = fileURLToPath(import.meta.url);
  const counts = process.env.N === undefined ? ['1', '3', '7'] : [process.env.N];
  for (const n of counts) {
    const r = spawnSync('unshare', ['--net', '--', process.execPath, self, '--inside'], {
      stdio: 'inherit',
      env: { ...process.env, N: n },
    });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  process.exit(0);
}

const userHz = 100;
function childCpuMs() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / userHz;
}
function selfCpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
function run(argv, input) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, LC_ALL: 'C' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', () => undefined);
    if (input !== undefined) child.stdin.end(input);
    child.on('close', (code) => resolve({ code, out }));
  });
}

// Read-only commands of the kind a step's checks run (on `lo`: a fresh namespace has no other).
const lines = [
  ['link', 'show', 'dev', 'lo'],
  ['-d', 'link', 'show', 'dev', 'lo'],
  ['addr', 'show', 'dev', 'lo'],
  ['route', 'show'],
  ['netns', 'list'],
  ['link', 'show'],
  ['-d', 'addr', 'show'],
];
const n = Number(process.env.N ?? lines.length);
const rounds = Number(process.env.ROUNDS ?? 60);
const chosen = Array.from({ length: n }, (_, i) => lines[i % lines.length]);
const separate = async () => {
  for (const line of chosen) await run(['ip', '-j', ...line]);
};
// -batch takes one set of global options (-j, -d) for every line: the lines carry none.
const batch = () =>
  run(
    ['ip', '-j', '-d', '-force', '-batch', '-'],
    `${chosen.map((line) => line.filter((w) => !w.startsWith('-')).join(' ')).join('\n')}\n`,
  );
async function measure(fn) {
  const wall = performance.now();
  const children = childCpuMs();
  const self = selfCpuMs();
  for (let i = 0; i < rounds; i++) await fn();
  return {
    wall: (performance.now() - wall) / rounds,
    children: (childCpuMs() - children) / rounds,
    self: (selfCpuMs() - self) / rounds,
  };
}
await separate();
await batch();
const series = { separate: [], batch: [] };
for (let k = 0; k < 3; k++) {
  series.separate.push(await measure(separate));
  series.batch.push(await measure(batch));
}
const median = (list, key) =>
  list
    .map((x) => x[key])
    .sort((a, b) => a - b)[1]
    .toFixed(2);
for (const [name, list] of Object.entries(series))
  console.log(
    `${name.padEnd(8)} N=${n}: wall ${median(list, 'wall')} ms, children CPU ${median(list, 'children')} ms, ` +
      `node CPU ${median(list, 'self')} ms per round (median of 3 x ${rounds} rounds)`,
  );
