import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toShellLine } from '../../src/text/shell-words.js';
import { SandboxHost } from '../helpers/sandbox-host.js';
import { learner, userClone, type UserClone } from '../helpers/user-clone.js';
import { machineState } from './sandbox-nested.js';

/**
 * docs/learn-by-doing.md, executed (issue 18: "docs that run"). Every `$ ` command of its
 * console blocks runs in order, from the checkout, inside one throwaway SandboxHost (the
 * sandboxes the doc creates are nested in it: nothing touches this machine), and what it prints
 * must be what the doc shows, once run ids, times, durations, MAC addresses and namespace
 * numbers are masked on both sides. A line `…` in the doc stands for one or more lines.
 *
 * As a learner runs it (issue 22): from a clone of their own (a copy of this checkout's build,
 * owned by another uid), as root through sudo (SUDO_UID is that uid), with the state dir where
 * it is by default, the clone's state/ (0755, the learner's, as git leaves it). `npx runbook` is
 * that clone's CLI; `<checkout>` stands for the clone. An interactive `sandbox shell` gets the lines typed at its prompt
 * (`(sandbox lab) root@vm:<checkout># …`: it starts in the directory it was typed in) on stdin, and bash echoes them after its prompts, as shown.
 */

/** This checkout, whose doc is run. */
const checkout = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const docFile = path.join(checkout, 'docs', 'learn-by-doing.md');

export interface Example {
  /** 1-based line of the `$ ` command in the doc. */
  line: number;
  command: string;
  /** Lines typed at the prompt of an interactive `sandbox shell`. */
  typed: string[];
  expected: string[];
}

const prompt = /^\(sandbox [\w.-]+\) root@vm:(?:\/|<checkout>)# ?(.*)$/;

/** The `$ ` commands of the doc's console blocks, with the output shown under each. */
export function examplesOf(markdown: string): Example[] {
  const examples: Example[] = [];
  let inConsole = false;
  let current: Example | undefined;
  const finish = () => {
    if (current === undefined) return;
    while (current.expected.at(-1) === '') current.expected.pop();
    examples.push(current);
    current = undefined;
  };
  markdown.split('\n').forEach((text, index) => {
    if (/^```console\s*$/.test(text)) inConsole = true;
    else if (inConsole && /^```\s*$/.test(text)) {
      finish();
      inConsole = false;
    } else if (inConsole && text.startsWith('$ ')) {
      finish();
      current = { line: index + 1, command: text.slice(2), typed: [], expected: [] };
    } else if (inConsole && current !== undefined) {
      const typed = prompt.exec(text);
      if (typed !== null) current.typed.push(typed[1] ?? '');
      current.expected.push(text);
    }
  });
  return examples;
}

/** What differs from one machine or one run to the next, made the same on both sides. */
export function mask(text: string, stateDir: string, codeDir = checkout): string {
  return (
    text
      // `ip -br link` ends its lines with a space; Markdown editors drop it.
      .replace(/[ \t]+$/gm, '')
      .replaceAll(stateDir, '<checkout>/state')
      .replaceAll(codeDir, '<checkout>')
      .replace(/\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}/g, '<run-id>')
      .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/g, '<time>')
      .replace(/net:\[\d+\]/g, 'net:[<inode>]')
      .replace(/\(\d+ ms\)/g, '(<n> ms)')
      .replace(/\b(?:[0-9a-f]{2}:){5}[0-9a-f]{2}\b/g, '<mac>')
      .replace(/time[= ]\d+(?:\.\d+)? ?ms/g, 'time <n> ms')
      .replace(/rtt min\/avg\/max\/mdev = .*/g, 'rtt <n>')
      // A neighbour entry's state depends on timing.
      .replace(/\b(?:REACHABLE|STALE|DELAY|PROBE)$/gm, '<nud-state>')
  );
}

/**
 * What an interactive `sandbox shell` printed, as the doc shows it: bash echoes each typed line
 * after its prompt, as in a terminal; only its complaints that stdin is not one are left out.
 */
export function shellTranscript(lines: readonly string[]): string[] {
  return lines.filter((line) => !/^bash: (?:cannot set terminal process group|no job control)/.test(line));
}

/** Whether `actual` matches `expected`, where an expected line `…` stands for one or more lines. */
export function linesMatch(expected: readonly string[], actual: readonly string[]): boolean {
  const [head, ...rest] = expected;
  if (head === undefined) return actual.length === 0;
  if (head.trim() === '…') {
    for (let skip = 1; skip <= actual.length; skip++) if (linesMatch(rest, actual.slice(skip))) return true;
    return false;
  }
  return actual.length > 0 && actual[0] === head && linesMatch(rest, actual.slice(1));
}

describe('docs/learn-by-doing.md parsing (no kernel)', () => {
  it('finds commands, their output, and the lines typed into an interactive shell', () => {
    const doc = [
      'text',
      '```console',
      '$ npx runbook a',
      'out 1',
      '',
      '$ npx runbook sandbox shell lab',
      'entering',
      '(sandbox lab) root@vm:/# ip netns',
      'lan (id: 0)',
      '(sandbox lab) root@vm:/# exit',
      '```',
      '```yaml',
      '$ not a command',
      '```',
    ].join('\n');
    expect(examplesOf(doc)).toEqual([
      { line: 3, command: 'npx runbook a', typed: [], expected: ['out 1'] },
      {
        line: 6,
        command: 'npx runbook sandbox shell lab',
        typed: ['ip netns', 'exit'],
        expected: ['entering', '(sandbox lab) root@vm:/# ip netns', 'lan (id: 0)', '(sandbox lab) root@vm:/# exit'],
      },
    ]);
  });

  it('masks ids, times, durations, MACs and inodes, and `…` stands for at least one line', () => {
    expect(
      mask(
        'run 20261128T150236.238Z-0435 at 2026-11-28T15:02:36.238Z (87 ms) net:[4026532672] ce:70:5c:68:9a:1d',
        '/s',
      ),
    ).toBe('run <run-id> at <time> (<n> ms) net:[<inode>] <mac>');
    expect(linesMatch(['a', '  …', 'd'], ['a', 'b', 'c', 'd'])).toBe(true);
    expect(linesMatch(['a', '  …', 'd'], ['a', 'd'])).toBe(false);
    expect(linesMatch(['a', 'b'], ['a', 'c'])).toBe(false);
  });
});

describe('docs/learn-by-doing.md, run command by command in a throwaway host', () => {
  const examples = examplesOf(readFileSync(docFile, 'utf8'));
  let host: SandboxHost;
  let stateDir: string;
  let clone: UserClone;
  /** As `sudo` leaves it: the learner's uid in SUDO_UID, the state dir left to its default. */
  let env: Record<string, string>;
  let machineBefore: Record<string, unknown>;

  beforeAll(async () => {
    clone = userClone(learner);
    stateDir = clone.stateDir;
    env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', SUDO_UID: String(learner) };
    machineBefore = await machineState(clone.dir);
    host = await SandboxHost.create();
  });

  afterAll(async () => {
    // Whatever the doc left behind (it destroys its sandboxes; a failed example may not have).
    const learnerRunbook = (args: string[]) => host.start([process.execPath, clone.cliPath, ...args], { env }).done;
    const left = await learnerRunbook(['sandbox', 'list', '--json']);
    for (const { name } of JSON.parse(left.stdout || '[]') as Array<{ name: string }>)
      await learnerRunbook(['sandbox', 'destroy', name]);
    // Nothing of what root did was left where the learner's own CLI would trip over it.
    expect(readdirSync(clone.dir).sort()).toEqual([
      '.git',
      'bin',
      'dist',
      'node_modules',
      'package.json',
      'runbooks',
      'state',
    ]);
    host?.dispose();
    expect(await machineState(clone.dir), "this machine's own links, routes, namespaces and mounts").toEqual(
      machineBefore,
    );
    rmSync(clone.dir, { recursive: true, force: true });
  });

  it('has commands to run, and shows no path of its author’s machine', () => {
    expect(examples.length).toBeGreaterThan(20);
    const doc = readFileSync(docFile, 'utf8');
    expect(doc).not.toMatch(/\/tmp\/|\/home\/|\/root\/|\/work\//);
  });

  // `npx runbook …` is the clone's CLI, as `npx` would find it after `npm ci`.
  const prelude = () =>
    `npx() { if [ "$1" = runbook ]; then shift; ${toShellLine([process.execPath, clone.cliPath])} "$@"; else command npx "$@"; fi; }`;

  for (const example of examples) {
    it(`line ${example.line}: ${example.command}`, async () => {
      const interactive = example.typed.length > 0;
      // stderr joins stdout, in the order they were printed (an interactive bash prints its
      // prompts there too, right before the output of each typed line).
      const script = `${prelude()}\ncd ${toShellLine([clone.dir])}\nexec 2>&1\n${example.command}`;
      const result = await host.exec(['bash', '-c', script], {
        env,
        input: interactive ? `${example.typed.join('\n')}\n` : undefined,
        timeoutMs: 30_000,
      });
      let lines = mask(result.stdout, stateDir, clone.dir).replace(/\n+$/, '').split('\n');
      if (interactive) lines = shellTranscript(lines);
      const actual = lines.length === 1 && lines[0] === '' ? [] : lines;
      const expected = example.expected.map((line) => mask(line, stateDir, clone.dir));
      if (!linesMatch(expected, actual)) expect(actual.join('\n')).toBe(expected.join('\n'));
    });
  }
});
