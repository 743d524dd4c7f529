import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inSandbox } from '../helpers/cli-harness.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { evaluate } from '../../src/engine/expectations.js';
import { firstMatchLinear, matchesWholeLinear } from '../../src/runbook/linear-regex.js';

/**
 * Issue 11, item 7: an `output_matches` pattern cannot hang a run. Patterns run on RE2's
 * linear-time engine; `^(a+)+$`, which JavaScript's RegExp backtracks on for minutes, answers at
 * once. A pattern RE2 cannot run in linear time (a backreference) is refused when read.
 */

const evil = '^(a+)+$';
const line = `${'a'.repeat(40)}b`;

describe('bounded expectations', () => {
  it('evaluates ^(a+)+$ against a long near-match in linear time', () => {
    const started = performance.now();
    const verdict = evaluate(
      { output_matches: evil },
      {
        exitCode: 0,
        signal: undefined,
        stdout: `${line}\n`,
        stderr: '',
        durationMs: 1,
        timedOut: false,
        startError: undefined,
      },
    );
    expect(verdict.ok).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('capture regexes and parameter patterns run on the same engine: linear, groups as before', () => {
    const started = performance.now();
    expect(matchesWholeLinear('(a+)+', line)).toBe(false);
    expect(firstMatchLinear(evil, `${line}\n`)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(500);
    expect(firstMatchLinear('^forwarding (\\d)$', 'x\nforwarding 1\n')).toMatchObject({ group1: '1', groups: 1 });
    expect(firstMatchLinear('^v(\\d+)?x', 'vx')).toMatchObject({ group1: undefined, match: 'vx' });
  });

  it('a run whose check is ^(a+)+$ ends at once with the step failed, in a sandbox host', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'evil.yaml');
      writeFileSync(
        file,
        `name: evil
description: a catastrophic pattern
steps:
  - id: evil
    title: Match it
    why: to see it does not hang
    verify:
      - run: [echo, "${line}"]
        expect: { output_matches: "${evil}" }
`,
      );
      await inSandbox(async (host, stateDir) => {
        const started = Date.now();
        const run = await host.runbook(['run', file, '--state-dir', stateDir]);
        expect(run.exitCode, run.stdout + run.stderr).toBe(1);
        expect(Date.now() - started).toBeLessThan(10_000);
      });
    } finally {
      removeDir(dir);
    }
  });

  it('a backreference is refused when the runbook is read: exit 2', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'backref.yaml');
      writeFileSync(
        file,
        'name: backref\ndescription: d\nsteps:\n  - id: a\n    title: t\n    why: w\n    verify:\n      - run: [echo, aa]\n        expect: { output_matches: "(a)\\\\1" }\n',
      );
      await inSandbox(async (host, stateDir) => {
        const run = await host.runbook(['run', file, '--state-dir', stateDir]);
        expect(run.exitCode).toBe(2);
        expect(run.stderr).toContain('RE2 syntax: no backreferences or lookaround');
      });
    } finally {
      removeDir(dir);
    }
  });
});
