import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostIdentity, JournalLine } from '../../src/journal/entries.js';
import { genesisHash, hashLine } from '../../src/journal/hash-chain.js';
import type { SandboxHost } from '../helpers/sandbox-host.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The golden state dirs of test/fixtures/golden-0.1.0 (how they were made: its README.md), as
 * the tests use them: copied to a fresh temp dir with the modes 0.1.0 gave each file, owned by
 * whoever runs the test (the state dir's owner, as `sudo runbook …` leaves it), and, to act on
 * one in a sandbox host, rebound to that host.
 */

export const goldenDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/golden-0.1.0');

/** The state dirs 0.1.0 made, by name (what made each: made.json). */
export const goldenStateDirs = [
  'single-container',
  'multi-container',
  'failed',
  'until',
  'interrupted',
  'rolled-back',
  'confirm-within',
] as const;
export type GoldenName = (typeof goldenStateDirs)[number];

/** A copy of golden state dir `name`, each entry with the mode 0.1.0 gave it. */
export function copyGolden(name: GoldenName): string {
  const target = path.join(tempDir('runbook-golden-'), name);
  cpSync(path.join(goldenDir, name), target, { recursive: true });
  const modes = JSON.parse(readFileSync(path.join(goldenDir, 'modes.json'), 'utf8')) as Record<string, string>;
  for (const [file, mode] of Object.entries(modes)) {
    if (file === name || file.startsWith(`${name}/`))
      chmodSync(path.join(path.dirname(target), file), Number.parseInt(mode, 8));
  }
  return target;
}

/** The id of the only run of a golden state dir. */
export function goldenRunId(stateDir: string): string {
  const ids = readdirSync(path.join(stateDir, 'runs'))
    .filter((f) => f.endsWith('.ndjson'))
    .map((f) => f.slice(0, -'.ndjson'.length));
  if (ids.length !== 1) throw new Error(`expected one run in ${stateDir}, found ${ids.length}`);
  return ids[0] as string;
}

/** The journal's lines as 0.1.0 wrote them, parsed without the reader (to replay its commands). */
export function rawLines(stateDir: string, runId: string): JournalLine[] {
  return readFileSync(path.join(stateDir, 'runs', `${runId}.ndjson`), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as JournalLine);
}

/** The host identity the runbook CLI sees inside a sandbox host. */
export async function identityOf(host: SandboxHost): Promise<HostIdentity> {
  const netns = (await host.exec(['readlink', '/proc/self/ns/net'])).stdout.trim();
  const hostname = (await host.exec(['hostname'])).stdout.trim();
  return { hostname, netns, sandbox: undefined };
}

/**
 * Makes a golden run belong to `host`, as if 0.1.0 had recorded it there: a journal binds its
 * run to the network namespace it was made in (src/host/binding.ts), and the sandbox host 0.1.0
 * ran in is long gone. Only the run-start's `host` changes; the hash chain is sealed again from
 * that line on, and the index (and a pending confirmation's marker) follow. Every other byte of
 * every entry stays what 0.1.0 wrote.
 */
export function rebind(stateDir: string, runId: string, host: HostIdentity): void {
  const journal = path.join(stateDir, 'runs', `${runId}.ndjson`);
  const lines = readFileSync(journal, 'utf8').split('\n');
  const tail = lines.pop() ?? '';
  let prev = genesisHash;
  const sealed = lines.map((raw) => {
    const line = JSON.parse(raw) as Record<string, unknown>;
    if (line.type === 'run-start') line.host = { ...host, sandbox: undefined };
    line.prev = prev;
    const text = JSON.stringify(line);
    prev = hashLine(text);
    return text;
  });
  writeFileSync(journal, [...sealed, tail].join('\n'));
  const indexFile = path.join(stateDir, 'runs', `${runId}.json`);
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as { host: unknown; lastSeq: number; lastHash: string };
  index.host = host;
  if (index.lastSeq > 0) index.lastHash = hashLine(sealed[index.lastSeq - 1] as string);
  writeFileSync(indexFile, `${JSON.stringify(index, null, 2)}\n`);
  const marker = path.join(stateDir, 'pending-confirmations', `${runId}.json`);
  if (existsSync(marker)) {
    const pending = JSON.parse(readFileSync(marker, 'utf8')) as { host: unknown };
    pending.host = host;
    writeFileSync(marker, JSON.stringify(pending));
  }
}

/**
 * Puts a sandbox host in the state a golden run left its host in, from the run's own journal:
 * every `do` command that ran to success (or an accepted status), in order, as recorded. What
 * the host looked like is then what the journal describes, whatever the runbooks say today.
 */
export async function replayChanges(host: SandboxHost, lines: readonly JournalLine[]): Promise<string[]> {
  const replayed: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = lines[i] as JournalLine;
    if (start.type !== 'command-start' || start.phase !== 'do') continue;
    const end = lines
      .slice(i + 1)
      .find((l) => l.type === 'command-end' && l.step === start.step && l.phase === 'do' && l.index === start.index);
    if (end?.type !== 'command-end' || !(end.exitCode === 0 || end.accepted === true)) continue;
    const result = await host.exec(start.argv, start.stdin === undefined ? {} : { input: start.stdin });
    if (result.exitCode !== 0) throw new Error(`replaying ${start.argv.join(' ')} failed: ${result.stderr}`);
    replayed.push(start.argv.join(' '));
  }
  return replayed;
}
