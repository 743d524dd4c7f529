import { describe, expect, it } from 'vitest';
import { inSandbox } from '../helpers/cli-harness.js';
import type { ExecResult, SandboxHost } from '../helpers/sandbox-host.js';

/**
 * Issue 26, item 2: hints never contradict each other. From a set of states, each command a
 * user may type first is run, and the command its hint suggests is run next, and so on, as a
 * user pasting hints would: the walk must reach a command that succeeds without ever being
 * sent back to a command it ran already (a cycle: "roll back A first" / "roll back B first"),
 * and without --force, which a hint offers only as the way to override a refusal. Every hint's
 * command must also parse (no usage error).
 *
 * The states: two runs that build on each other (A stopped --until namespace, B a full run
 * that found A's namespace in place, then A resumed as its own message says, finding B's
 * steps in place), and the plain case of one stopped run. Each walk starts from a fresh
 * sandbox host, and ends with the host as it was before the first run.
 */

const sd = (stateDir: string) => ['--state-dir', stateDir];

/** The runbook commands a hint line suggests, in order, without the `runbook --state-dir DIR` prefix. */
function suggestedCommands(stderr: string, stateDir: string): string[][] {
  const prefix = `runbook --state-dir ${stateDir} `;
  const commands: string[][] = [];
  for (const line of stderr.split('\n').filter((l) => l.startsWith('hint: '))) {
    for (let at = line.indexOf(prefix); at !== -1; at = line.indexOf(prefix, at + 1)) {
      const words: string[] = [];
      for (const word of line.slice(at + prefix.length).split(' ')) {
        // A command ends at prose: a word with punctuation after it, or one of the joining words.
        const bare = word.replace(/[,;)`]+$/, '');
        if (bare === '' || ['or', 'then', 'and', 'with'].includes(bare) || bare.startsWith('(')) break;
        words.push(bare);
        if (bare !== word) break;
      }
      commands.push(words);
    }
  }
  return commands;
}

/** Follows hints from `first` until a command succeeds; returns the commands run, in order. */
async function followHints(host: SandboxHost, stateDir: string, first: string[]): Promise<string[][]> {
  const walked: string[][] = [];
  let next: string[] | undefined = first;
  while (next !== undefined) {
    expect(walked, `the hint sends the user back to \`runbook ${next.join(' ')}\``).not.toContainEqual(next);
    walked.push(next);
    const result: ExecResult = await host.runbook([...sd(stateDir), ...next]);
    if (result.exitCode === 0) return walked;
    expect(result.stderr, `runbook ${next.join(' ')}: a usage error`).not.toMatch(/error: (unknown|missing|too many)/);
    const suggested = suggestedCommands(result.stderr, stateDir);
    next = suggested.find((command) => !command.includes('--force'));
    expect(next, `runbook ${next?.join(' ')} failed with no command to follow:\n${result.stderr}`).toBeDefined();
  }
  return walked;
}

async function runId(host: SandboxHost, stateDir: string, args: string[], done: RegExp): Promise<string> {
  const result = await host.runbook([...sd(stateDir), ...args]);
  expect(result.exitCode, result.stderr).toBe(0);
  const id = done.exec(result.stdout)?.[1];
  expect(id, result.stdout).toBeDefined();
  return id as string;
}

/** A stopped --until namespace; B a full run on top of it; A resumed: each builds on the other. */
async function runsBuildingOnEachOther(host: SandboxHost, stateDir: string): Promise<{ a: string; b: string }> {
  const a = await runId(
    host,
    stateDir,
    ['run', 'single-container', '--until', 'namespace'],
    /run (\S+) stopped after step namespace/,
  );
  const b = await runId(host, stateDir, ['run', 'single-container'], /run (\S+) succeeded/);
  const resumed = await host.runbook([...sd(stateDir), 'resume', a]);
  expect(resumed.exitCode, resumed.stderr).toBe(0);
  return { a, b };
}

describe('hints never point in circles: every hint followed leads to a command that works', () => {
  const starts: Array<[string, (ids: { a: string; b: string }) => string[]]> = [
    ['rollback', () => ['rollback']],
    ['rollback A (the older run)', ({ a }) => ['rollback', a]],
    ['rollback B (the newer run)', ({ b }) => ['rollback', b]],
  ];
  for (const [name, first] of starts) {
    it(`two runs that build on each other, starting from ${name}: the refusal names the cycle and rollback --all`, async () => {
      await inSandbox(async (host, stateDir) => {
        const before = await host.snapshot();
        const ids = await runsBuildingOnEachOther(host, stateDir);
        const refused = await host.runbook([...sd(stateDir), ...first(ids)]);
        expect(refused.exitCode, refused.stderr).toBe(2);
        expect(refused.stderr).toContain('build on each other');
        const walked = await followHints(host, stateDir, first(ids));
        expect(walked.at(-1)).toEqual(['rollback', '--all']);
        expect(await host.snapshot()).toEqual(before);
      });
    });
  }

  it('one stopped run: rollback works at once, and a second rollback has nothing to do', async () => {
    await inSandbox(async (host, stateDir) => {
      const before = await host.snapshot();
      await runId(host, stateDir, ['run', 'single-container', '--until', 'veth-pair'], /run (\S+) stopped/);
      expect(await followHints(host, stateDir, ['rollback'])).toEqual([['rollback']]);
      expect(await followHints(host, stateDir, ['rollback'])).toEqual([['rollback']]);
      expect(await host.snapshot()).toEqual(before);
    });
  });

  it('reads the commands out of hint lines as a user would paste them', () => {
    const stderr =
      'runbook: refused\n' +
      'hint: roll back the later runs first (runbook --state-dir /s rollback B, then runbook --state-dir /s rollback C), or pass --force\n' +
      'hint: with runbook --state-dir /s rollback --all (every run)';
    expect(suggestedCommands(stderr, '/s')).toEqual([
      ['rollback', 'B'],
      ['rollback', 'C'],
      ['rollback', '--all'],
    ]);
  });
});
