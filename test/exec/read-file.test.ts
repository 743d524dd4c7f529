import { execa } from 'execa';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/engine/expectations.js';
import { createExecaExecutor } from '../../src/exec/execa-executor.js';
import { createHostExecutor } from '../../src/host/host-executor.js';
import { maxReadBytes, readFileInProcess } from '../../src/exec/read-file.js';
import type { CommandRequest } from '../../src/exec/types.js';
import { tempDirsRemovedAfterAll } from '../helpers/temp-dir.js';

/**
 * Issue 16: a `read:` check reads its file in-process instead of spawning `cat`. Its result must
 * judge like cat's would (the same verdict from the same expectation), and it must never wait.
 */

const tempDir = tempDirsRemovedAfterAll('runbook-read-');

const readOf = (file: string, extra: Partial<CommandRequest> = {}): CommandRequest => ({
  argv: ['read', file],
  read: file,
  timeoutMs: 5_000,
  readOnly: true,
  ...extra,
});

/** What `cat FILE` gives, for comparison (run on this machine: it only reads a file). */
async function cat(file: string) {
  const r = await execa('cat', [file], { reject: false, stripFinalNewline: false, env: { LC_ALL: 'C' } });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe('readFileInProcess', () => {
  it('gives a file content whole (final newline too) with exit status 0, as cat does', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'setting');
    writeFileSync(file, '1\n');
    const result = readFileInProcess(readOf(file));
    expect(result).toMatchObject({ exitCode: 0, stdout: '1\n', stderr: '', timedOut: false, startError: undefined });
    expect(result.stdout).toBe((await cat(file)).stdout);
  });

  it('reads a kernel file that reports size 0 (/proc/sys) to its end, the value cat reads', async () => {
    const file = '/proc/sys/net/ipv4/ip_forward';
    const result = readFileInProcess(readOf(file));
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^[01]\n$/);
    expect(result.stdout).toBe((await cat(file)).stdout);
  });

  it('a missing file is exit status 1 with the reason on stderr, so "exit: nonzero" and the verdicts read as with cat', async () => {
    const file = path.join(tempDir(), 'no-such-interface', 'arp_ignore');
    const result = readFileInProcess(readOf(file));
    expect(result).toMatchObject({ exitCode: 1, stdout: '', startError: undefined, timedOut: false });
    expect(result.stderr).toBe(`read ${file}: no such file or directory (ENOENT)\n`);
    expect((await cat(file)).exitCode).toBe(1);
    // The same expectations give the same verdicts as for cat's result.
    const catResult = {
      ...(await cat(file)),
      signal: undefined,
      durationMs: 1,
      timedOut: false,
      startError: undefined,
    };
    for (const expectation of [
      { output_matches: '^0$' },
      { exit: 'nonzero' as const },
      { exit: 'any' as const, not: { output_matches: '^[1-8]' } },
      { output_matches: '^[1-8]' },
    ])
      expect(evaluate(expectation, result).ok, JSON.stringify(expectation)).toBe(evaluate(expectation, catResult).ok);
  });

  it('a directory gives its names, sorted, one a line (/run/netns lists the namespaces)', () => {
    const dir = tempDir();
    for (const name of ['lan', 'container1', '.hidden']) writeFileSync(path.join(dir, name), '');
    mkdirSync(path.join(dir, 'sub'));
    expect(readFileInProcess(readOf(dir))).toMatchObject({ exitCode: 0, stdout: 'container1\nlan\nsub\n' });
    expect(readFileInProcess(readOf(tempDir()))).toMatchObject({ exitCode: 0, stdout: '' });
  });

  it('never waits: a FIFO with no writer is refused at once, not read', async () => {
    const fifo = path.join(tempDir(), 'fifo');
    await execa('mkfifo', [fifo]);
    const started = performance.now();
    const result = readFileInProcess(readOf(fifo));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(result.exitCode).toBeUndefined();
    expect(result.startError).toContain('not a regular file or a directory');
    expect(evaluate({ exit: 'any' }, result).ok).toBe(false);
  });

  it(`reads at most ${maxReadBytes} bytes: a larger file fails the check rather than being judged on a part`, () => {
    const file = path.join(tempDir(), 'big');
    writeFileSync(file, 'x'.repeat(maxReadBytes + 1));
    const big = readFileInProcess(readOf(file));
    expect(big.exitCode).toBeUndefined();
    expect(big.startError).toContain('larger than');
    expect(evaluate({ exit: 'any' }, big).ok).toBe(false);
    expect(evaluate({ not: { output_contains: 'y' } }, big).ok).toBe(false);
    writeFileSync(file, 'x'.repeat(maxReadBytes));
    expect(readFileInProcess(readOf(file)).stdout).toHaveLength(maxReadBytes);
  });

  it('a read that took longer than its timeout counts as timed out', () => {
    const file = path.join(tempDir(), 'setting');
    writeFileSync(file, '0\n');
    // A timeout of -1 ms: any read is longer.
    const result = readFileInProcess(readOf(file, { timeoutMs: -1 }));
    expect(result.timedOut).toBe(true);
    expect(evaluate({ exit: 0 }, result).reason).toMatch(/^timed out/);
  });

  it('is refused outside the read-only phases, and for a relative path', () => {
    const file = path.join(tempDir(), 'setting');
    writeFileSync(file, '0\n');
    expect(readFileInProcess(readOf(file, { readOnly: false })).startError).toContain(
      'reads are for checks and probes',
    );
    expect(readFileInProcess(readOf('proc/sys/x')).startError).toContain('reads are for checks and probes');
  });
});

describe('both executors read in-process', () => {
  it('no program is run, even with a program named "read" first on PATH', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'setting');
    writeFileSync(file, '2\n');
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'read'), '#!/bin/sh\necho spawned\n', { mode: 0o755 });
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved ?? ''}`;
    try {
      for (const executor of [createHostExecutor(), createExecaExecutor()]) {
        const result = await executor.run(readOf(file));
        expect(result).toMatchObject({ exitCode: 0, stdout: '2\n', startError: undefined });
      }
      // The same argv without `read` does run that program: the marker alone decides nothing.
      const spawned = await createHostExecutor().run({ argv: ['read', file], timeoutMs: 5_000, readOnly: true });
      expect(spawned.stdout).toBe('spawned\n');
    } finally {
      process.env.PATH = saved;
    }
  });
});
