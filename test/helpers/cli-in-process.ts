import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

/**
 * The CLI run in this process, for tests of what a command prints where spawning it is not the
 * point (no root, no kernel, no second Node.js start-up): `main` as bin/runbook.js calls it, its
 * stdout and stderr captured.
 */
export async function runbookInProcess(
  args: readonly string[],
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const capture = (into: string[]) => (chunk: string | Uint8Array) => {
    into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(capture(stdout) as typeof process.stdout.write);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(capture(stderr) as typeof process.stderr.write);
  try {
    const exitCode = await main(args);
    return { exitCode, stdout: stdout.join(''), stderr: stderr.join('') };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
