import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { inSandbox } from '../helpers/cli-harness.js';

/**
 * Issue 26, item 9: the output the README's quick start shows is what its command prints. The
 * quick start's `npx runbook run single-container --sandbox` runs here (the CLI of this
 * checkout, inside a throwaway SandboxHost), and its stdout must be the README's block line for
 * line, once durations, the run id and ping times are masked on both sides; a line `...` in the
 * README stands for one or more lines left out.
 */

const readme = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../README.md');

/** The README's sample: the plain code block that starts with the sandbox's first line. */
function readmeSample(markdown: string): string[] {
  const start = markdown.indexOf('```\nsandbox host ready:');
  if (start === -1) return [];
  const body = markdown.slice(start + '```\n'.length);
  return body.slice(0, body.indexOf('\n```')).split('\n');
}

/** What differs from one run to the next. */
function masked(line: string): string {
  return line
    .replace(/\(\d+ ms\)/g, '(<n> ms)')
    .replace(/\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}/g, '<run-id>')
    .replace(/time \d+(?:\.\d+)?ms/g, 'time <n>ms')
    .trimEnd();
}

/** Whether `actual` matches `expected`, where an expected line `...` stands for one or more lines. */
function sampleMatches(expected: readonly string[], actual: readonly string[]): boolean {
  const [head, ...rest] = expected;
  if (head === undefined) return actual.length === 0;
  if (head.trim() === '...') {
    for (let skip = 1; skip <= actual.length; skip++) if (sampleMatches(rest, actual.slice(skip))) return true;
    return false;
  }
  return actual.length > 0 && masked(actual[0] as string) === masked(head) && sampleMatches(rest, actual.slice(1));
}

describe("the README's sample output", () => {
  it('is found, and `...` stands for at least one line', () => {
    const sample = readmeSample(readFileSync(readme, 'utf8'));
    expect(sample[0]).toMatch(/^sandbox host ready: /);
    expect(sample.length).toBeGreaterThan(15);
    expect(sampleMatches(['a', '  ...', 'd'], ['a', 'b', 'c', 'd'])).toBe(true);
    expect(sampleMatches(['a', '  ...', 'd'], ['a', 'd'])).toBe(false);
    expect(sampleMatches(['run x (12 ms)'], ['run x (7 ms)'])).toBe(true);
  });

  it('is what the quick start’s `runbook run single-container --sandbox` prints, line for line', async () => {
    const sample = readmeSample(readFileSync(readme, 'utf8'));
    await inSandbox(async (host, stateDir) => {
      const result = await host.runbook(['--state-dir', stateDir, 'run', 'single-container', '--sandbox']);
      expect(result.exitCode, result.stderr).toBe(0);
      // The sandbox host has the tutorial's 10.0.0.10: no warning that host_ip is missing (issue 26).
      expect(result.stderr).not.toContain('is not an address of this host');
      const printed = result.stdout.split('\n');
      while (printed.at(-1) === '') printed.pop();
      const shown = `README:\n${sample.join('\n')}\n\nprinted:\n${printed.join('\n')}`;
      expect(sampleMatches(sample, printed), shown).toBe(true);
    });
  });
});
