import { afterEach, describe, expect, it, vi } from 'vitest';
import { createExecaExecutor } from '../../src/exec/execa-executor.js';
import { spawnLight, spawnReadOnly } from '../../src/exec/fast-spawn.js';
import { createHostExecutor } from '../../src/host/host-executor.js';
import type { CommandRequest, CommandResult } from '../../src/exec/types.js';
import type { JournalEntry } from '../../src/journal/entries.js';
import { needsFsync } from '../../src/journal/writer.js';
import type { Phase } from '../../src/plan/plan.js';

const request = (argv: string[], timeoutMs = 5_000): CommandRequest => ({ argv, timeoutMs, readOnly: true });
/** The fields that must not depend on which spawn path ran the command. */
const outcome = ({ exitCode, signal, stdout, stderr, timedOut }: CommandResult) => ({
  exitCode,
  signal,
  stdout,
  stderr,
  timedOut,
});

afterEach(() => vi.unstubAllEnvs());

describe('the light spawn path for read-only commands', () => {
  it('reports what execa reports: exit status, output kept whole (final newline too), stderr', async () => {
    const cases = [
      ['sh', '-c', 'printf "a\\nb\\n"; printf err >&2; exit 3'],
      ['true'],
      ['false'],
      ['sh', '-c', 'echo "$LC_ALL"'],
    ];
    const execa = createExecaExecutor();
    for (const argv of cases) {
      const light = await spawnReadOnly(request(argv));
      const heavy = await execa.run(request(argv));
      expect(outcome(light)).toEqual(outcome(heavy));
      expect(light.startError).toBeUndefined();
    }
    expect((await spawnReadOnly(request(['sh', '-c', 'echo "$LC_ALL"']))).stdout).toBe('C\n');
  });

  it('keeps the environment the command would get from execa (PATH), with LC_ALL=C', async () => {
    const result = await spawnReadOnly(request(['sh', '-c', 'echo "$PATH"']));
    expect(result.stdout.trim()).toBe(process.env.PATH);
  });

  it('a program that is not installed: no exit status, a start error that names the cause', async () => {
    // A PATH every user can search: one holding a dir this user cannot enter (root's ~/.cargo/bin
    // under setpriv) makes the lookup fail with EACCES instead, a different cause.
    vi.stubEnv('PATH', '/usr/local/bin:/usr/bin:/bin');
    const result = await spawnReadOnly(request(['runbook-no-such-program-xyz']));
    expect(result.exitCode).toBeUndefined();
    expect(result.timedOut).toBe(false);
    expect(result.startError).toContain('ENOENT');
  });

  it('a command that hangs is stopped at its timeout, with what it started, and reported as timed out', async () => {
    const started = performance.now();
    // The shell's child holds the output open: only stopping the whole group ends the command.
    const result = await spawnReadOnly(request(['sh', '-c', 'sleep 30; true'], 200));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBeUndefined();
    expect(result.signal).toBe('SIGTERM');
  });

  it("the user's interrupt stops the command and what it started, at once", async () => {
    const interrupt = new AbortController();
    const started = performance.now();
    const running = spawnReadOnly({
      argv: ['sh', '-c', 'sleep 30; true'],
      timeoutMs: 60_000,
      signal: interrupt.signal,
    });
    setTimeout(() => interrupt.abort(), 100);
    const result = await running;
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(result.timedOut).toBe(false);
    expect(result.signal).toBe('SIGTERM');
  });

  it('gives a command its input on stdin and marks output that is not UTF-8, as execa does (the CNI plugin runs every command this way)', async () => {
    const execa = createExecaExecutor();
    const withInput = { argv: ['sh', '-c', 'cat; echo; exit 2'], timeoutMs: 5_000, input: 'line 1\nline 2' };
    expect(outcome(await spawnLight(withInput))).toEqual(outcome(await execa.run(withInput)));
    expect((await spawnLight(withInput)).stdout).toBe('line 1\nline 2\n');
    const binary = { argv: ['printf', '\\377\\376'], timeoutMs: 5_000 };
    const light = await spawnLight(binary);
    expect(light.stdoutNotText).toBe(true);
    expect((await execa.run(binary)).stdoutNotText).toBe(true);
    expect((await spawnLight({ argv: ['printf', 'ok'], timeoutMs: 5_000 })).stdoutNotText).toBeUndefined();
  });

  it("the light host executor (the CNI plugin's) runs changing commands the light way too", async () => {
    const light = createHostExecutor({ light: true });
    const result = await light.run({ argv: ['sh', '-c', 'read x; echo "$x"'], timeoutMs: 5_000, input: 'hello\n' });
    expect(outcome(result)).toEqual({ exitCode: 0, signal: undefined, stdout: 'hello\n', stderr: '', timedOut: false });
  });

  it('the host executor sends read-only commands the light way and the others through execa, same results', async () => {
    const host = createHostExecutor();
    const argv = ['sh', '-c', 'echo out; exit 4'];
    const light = await host.run({ argv, timeoutMs: 5_000, readOnly: true });
    const heavy = await host.run({ argv, timeoutMs: 5_000 });
    expect(outcome(light)).toEqual(outcome(heavy));
    expect(light.exitCode).toBe(4);
  });
});

describe('fsync before a command: only when it may change the host', () => {
  const start = (phase: Phase): JournalEntry => ({
    type: 'command-start',
    step: 's',
    phase,
    index: 0,
    argv: ['x'],
    timeoutMs: 1,
  });

  it('do, undo and capture intents are fsynced; checks, preconditions and probes are not', () => {
    for (const phase of ['do', 'undo', 'capture'] as const) expect(needsFsync(start(phase))).toBe(true);
    for (const phase of ['check', 'requires', 'verify', 'diagnose', 'undo-check'] as const) {
      expect(needsFsync(start(phase))).toBe(false);
    }
  });
});
