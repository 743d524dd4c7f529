import { chmodSync, chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandSpec } from '../../src/cli/command-spec.js';
import { loadAllCommands } from '../../src/cli/commands/index.js';
import type { JournalLine } from '../../src/journal/entries.js';
import { pendingFile, runsDir } from '../../src/journal/paths.js';
import { isSameProcess } from '../../src/host/process-start.js';
import { fileTree, forgeJournal, journalLines, onlyRunId, waitFor } from '../helpers/cli-harness.js';
import { SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 22, item 1: one door. Every entry point of the program — each command, hidden ones
 * included, each sandbox subcommand, `--in`, and the pre-command hook that reverts an expired
 * `--confirm-within` run — is run against an untrusted state dir holding a planted journal, and
 * each must stop with exit 2 before it reads anything: nothing planted runs, the host and the
 * state dir are unchanged. The list of entry points comes from the declarations themselves (src/cli/commands,
 * hidden commands and subcommands included), so a new command that skips the door, or that
 * is not listed below with the arguments to call it with, fails this test.
 *
 * The plant: a run of single-container made with --confirm-within, its watchdog killed, its
 * journal rewritten (every undo replaced by commands that leave a marker file and a dummy
 * link) and its deadline moved into the past, hash chain and index recomputed so that
 * `journal --verify` finds nothing wrong, and its pending marker saying it is due. Before the
 * door, the hook that precedes every command reverted such a run before trusting the state dir:
 * the planted undo ran as root, then the command refused the state dir.
 */

const nobody = 65534;

/** How to call each command; a command of the program not listed here fails the test. */
const callsOf = (runId: string): Record<string, string[][]> => ({
  list: [['list']],
  show: [['show', 'single-container']],
  graph: [['graph', 'single-container']],
  completion: [['completion', 'bash']],
  __complete: [
    ['__complete', 'runs'],
    ['__complete', 'sandboxes'],
  ],
  runs: [['runs'], ['runs', '--json']],
  journal: [
    ['journal', 'latest'],
    ['journal', runId, '--verify'],
  ],
  topology: [['topology'], ['topology', '--run', runId, '--format', 'dot']],
  check: [['check', 'single-container']],
  plan: [
    ['plan', 'single-container'],
    ['plan', 'single-container', '--set', 'gateway=172.16.0.3', '--json'],
  ],
  run: [
    ['run', 'single-container'],
    ['run', 'single-container', '--sandbox'],
  ],
  resume: [['resume']],
  rollback: [['rollback'], ['rollback', runId], ['rollback', '--all']],
  confirm: [['confirm'], ['confirm', runId], ['confirm', '--extend', '5m']],
  prune: [['prune'], ['prune', '--dry-run']],
  __watchdog: [['__watchdog', runId]],
  '__revert-due': [['__revert-due', runId, 'runbook-revert-unit']],
  'sandbox create': [['sandbox', 'create', 'lab2']],
  'sandbox shell': [['sandbox', 'shell', 'lab', '-c', 'true']],
  'sandbox list': [['sandbox', 'list']],
  'sandbox destroy': [['sandbox', 'destroy', 'lab']],
});

/** Entry points that are not commands: they reach the state dir before commander dispatches. */
const notCommands = [
  ['--in', 'lab', 'runs'],
  ['--in', 'lab', 'rollback'],
];

/** The commands that never touch the state dir: they must still work, and read nothing of it. */
const readNothing = ['completion', 'graph', 'list', 'show'];

/**
 * Every command the program has, by full name ("sandbox list"), hidden ones included, with
 * what it declares it does with the state dir (`stateDir` in src/cli/commands/<verb>.ts).
 */
async function programCommands(): Promise<Map<string, CommandSpec['stateDir']>> {
  const leaves = (spec: CommandSpec, prefix: string): Array<[string, CommandSpec['stateDir']]> =>
    spec.subcommands === undefined
      ? [[`${prefix}${spec.name}`, spec.stateDir]]
      : spec.subcommands.flatMap((sub) => leaves(sub, `${prefix}${spec.name} `));
  const all = (await loadAllCommands()).flatMap((spec) => leaves(spec, ''));
  return new Map(all.sort(([a], [b]) => a.localeCompare(b)));
}

describe('one door: every entry point trusts the state dir before anything else (exit 2, nothing run)', () => {
  let host: SandboxHost;
  let stateDir: string;
  let outside: string;
  let runId: string;
  let planted: string;

  beforeAll(async () => {
    host = await SandboxHost.create();
    stateDir = tempDir('runbook-door-');
    outside = tempDir('runbook-door-outside-');
    planted = path.join(outside, 'PLANTED-UNDO-RAN');
    const sd = ['--state-dir', stateDir];
    const run = await host.runbook([...sd, 'run', 'single-container', '--confirm-within', '1h']);
    expect(run.exitCode, run.stderr).toBe(0);
    runId = onlyRunId(stateDir);
    const watchdog = journalLines(stateDir, runId).find(
      (l): l is Extract<JournalLine, { type: 'watchdog-started' }> => l.type === 'watchdog-started',
    );
    if (watchdog === undefined) throw new Error('the run started no watchdog');
    process.kill(watchdog.pid, 'SIGKILL');
    await waitFor('the watchdog to be gone', () => !isSameProcess(watchdog.pid, watchdog.startTime), 5_000);

    // Due an hour ago, and every undo replaced: what a revert would run is the plant.
    const past = new Date(Date.now() - 3_600_000).toISOString();
    forgeJournal(stateDir, runId, (entries) => {
      const plan = entries[0]!.plan as { steps: Array<{ undo: unknown[] }> };
      for (const step of plan.steps)
        step.undo = [
          { argv: ['touch', planted], timeoutMs: 5000 },
          { argv: ['ip', 'link', 'add', 'planted0', 'type', 'dummy'], timeoutMs: 5000 },
        ];
      for (const entry of entries) if (entry.type === 'confirm-pending') entry.deadline = past;
    });
    const marker = JSON.parse(readFileSync(pendingFile(stateDir, runId), 'utf8')) as Record<string, unknown>;
    writeFileSync(pendingFile(stateDir, runId), JSON.stringify({ ...marker, deadline: past }), { mode: 0o600 });
    // The forgery verifies, and in a trusted state dir the hook would revert it first.
    const verify = await host.runbook([...sd, 'journal', runId, '--verify']);
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(verify.stderr).toContain(`run ${runId} was not confirmed by ${past} and awaits its automatic revert`);
  });

  afterAll(() => {
    host?.dispose();
    removeDir(stateDir);
    removeDir(outside);
  });

  it('the entry points are exactly those the program has, each declaring what it does with the state dir', async () => {
    const declared = await programCommands();
    const commands = [...declared.keys()];
    expect(commands).toContain('__watchdog');
    expect(commands).toContain('__complete');
    expect(commands).toContain('sandbox destroy');
    expect(Object.keys(callsOf('x')).sort(), 'every command of the program has calls in this test').toEqual(commands);
    // Every declaration says what it does with the state dir (the compiler refuses one that does not).
    expect(commands.filter((c) => declared.get(c) === 'none').sort()).toEqual(readNothing);
  });

  const spoilers: Array<[string, () => void, () => void]> = [
    ['the state dir of mode 0777', () => chmodSync(stateDir, 0o777), () => chmodSync(stateDir, 0o700)],
    [
      'runs/ owned by another user',
      () => chownSync(runsDir(stateDir), nobody, nobody),
      () => chownSync(runsDir(stateDir), 0, 0),
    ],
  ];

  for (const [what, spoil, mend] of spoilers) {
    it(`${what}: every command, hidden or not, and --in exit 2 naming it; the planted undo never runs; host and state dir unchanged`, async () => {
      const commands = [...(await programCommands()).keys()];
      const before = await host.snapshot();
      spoil();
      try {
        const tree = fileTree(stateDir);
        const calls = callsOf(runId);
        const results: Array<[string[], ExecResult]> = [];
        for (const command of commands) {
          for (const args of calls[command] ?? [])
            results.push([args, await host.runbook(['--state-dir', stateDir, ...args])]);
        }
        for (const args of notCommands) results.push([args, await host.runbook(['--state-dir', stateDir, ...args])]);
        for (const [args, result] of results) {
          const name = args.join(' ');
          const command = commands.find((c) => name === c || name.startsWith(`${c} `));
          if (command !== undefined && readNothing.includes(command)) {
            expect(result.exitCode, `${name}: ${result.stderr}`).toBe(0);
            expect(result.stderr, name).not.toContain('state dir');
            continue;
          }
          expect(result.exitCode, `${name}: ${result.stderr}${result.stdout}`).toBe(2);
          expect(result.stderr, name).toContain('refusing to use the state dir');
          expect(result.stderr, name).not.toContain('reverting it first');
        }
        expect(existsSync(planted), 'the planted undo ran').toBe(false);
        expect(fileTree(stateDir)).toEqual(tree);
        expect(await host.snapshot()).toEqual(before);
      } finally {
        mend();
      }
    });
  }

  it('the watchdog checks the state dir again at its deadline: loosened meanwhile, it reverts nothing and says why in its log', async () => {
    const dir = tempDir('runbook-door-watchdog-');
    const plant = path.join(outside, 'PLANTED-BY-THE-WATCHDOG');
    try {
      const run = await host.runbook(['--state-dir', dir, 'run', 'single-container', '--confirm-within', '3s']);
      expect(run.exitCode, run.stderr).toBe(0);
      const id = onlyRunId(dir);
      const lines = journalLines(dir, id);
      const watchdog = lines.find(
        (l): l is Extract<JournalLine, { type: 'watchdog-started' }> => l.type === 'watchdog-started',
      )!;
      const deadline = lines.find((l) => l.type === 'confirm-pending')!;
      forgeJournal(dir, id, (entries) => {
        const plan = entries[0]!.plan as { steps: Array<{ undo: unknown[] }> };
        for (const step of plan.steps) step.undo = [{ argv: ['touch', plant], timeoutMs: 5000 }];
      });
      chmodSync(dir, 0o777);
      const provisional = await host.snapshot();
      expect(Date.now(), 'the state dir was loosened before the deadline').toBeLessThan(
        Date.parse((deadline as { deadline: string }).deadline),
      );
      await waitFor('the watchdog to end', () => !isSameProcess(watchdog.pid, watchdog.startTime), 20_000);
      expect(existsSync(plant), 'the planted undo ran').toBe(false);
      expect(readFileSync(path.join(runsDir(dir), `${id}.watchdog.log`), 'utf8')).toContain(
        `not reverting run ${id}: refusing to use the state dir: the state dir ${dir} is writable by anyone`,
      );
      expect(await host.snapshot()).toEqual(provisional);
    } finally {
      removeDir(dir);
    }
  });

  it('trusted again, the forged run is what it is: a command that changes the host reverts it first, running the plant (the door guards the dir, not what its owner wrote)', async () => {
    // The control: the same state dir, trusted, does reach the revert, so the refusals above
    // are the door's doing and not a plant that could never have run.
    const result = await host.runbook(['--state-dir', stateDir, 'rollback', runId]);
    expect(result.stderr).toContain(`run ${runId} was not confirmed by`);
    expect(result.stderr).toContain('reverting it first (automatic revert)');
    expect(existsSync(planted)).toBe(true);
  });
});
