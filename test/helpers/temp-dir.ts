import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

/**
 * The one way tests make temp directories. By their real path: /proc/self/mountinfo names
 * mount points that way, and the sandbox tests compare with it.
 */
export function tempDir(prefix = 'runbook-test-'): string {
  return realpathSync(mkdtempSync(path.join(os.tmpdir(), prefix)));
}

export function removeDir(dir: string | undefined): void {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}

/**
 * For a test file that makes temp dirs in many tests: returns a maker whose dirs are all
 * removed after the file's tests. Call it at the top level of the file.
 */
export function tempDirsRemovedAfterAll(defaultPrefix?: string): (prefix?: string) => string {
  const made: string[] = [];
  afterAll(() => made.forEach(removeDir));
  return (prefix = defaultPrefix) => {
    const dir = tempDir(prefix);
    made.push(dir);
    return dir;
  };
}
