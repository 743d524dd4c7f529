import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inSandbox } from '../helpers/cli-harness.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 11, item 8: every message tells the truth. A rollback whose undo failed for a reason
 * other than "already gone" exits 1 and says what is left; the journal says "gone" after an
 * undo; --sandbox says what it isolates and warns about commands that reach past it. Every run
 * happens inside a SandboxHost (a --sandbox run is nested in one).
 */

function fixture(dir: string, name: string, body: string): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\ndescription: d\nsteps:\n${body}`);
  return file;
}

describe('truthful output', () => {
  it('an undo that failed for another reason than "already gone": exit 1, the step and what is left named', async () => {
    const dir = tempDir();
    try {
      // Its undo removes the namespace, yet reports a failure that is not "already gone".
      const file = fixture(
        dir,
        'undo-lies',
        `  - id: first
    title: Make u0
    why: w
    do:
      - [ip, netns, add, u0]
    verify:
      - run: [ip, -j, netns, list]
        expect: { json: { name: u0 } }
    undo:
      - [ip, netns, del, u0]
  - id: second
    title: Make u1
    why: w
    do:
      - [ip, netns, add, u1]
    verify:
      - run: [ip, -j, netns, list]
        expect: { json: { name: u1 } }
    undo:
      - [sh, -c, "ip netns del u1; echo 'RTNETLINK answers: Operation not permitted' >&2; exit 2"]
`,
      );
      await inSandbox(async (host, stateDir) => {
        expect((await host.runbook(['run', file, '--state-dir', stateDir])).exitCode).toBe(0);
        const rollback = await host.runbook(['rollback', '--state-dir', stateDir]);
        expect(rollback.exitCode, rollback.stdout + rollback.stderr).toBe(1);
        expect(rollback.stderr).toContain('stopped at step second');
        expect(rollback.stderr).toContain('Operation not permitted');
        expect(rollback.stderr).toContain('left in place, not undone: second, first');
        expect(rollback.stdout).not.toContain('rolled back');
      });
    } finally {
      removeDir(dir);
    }
  });

  it('the journal of a rollback says "gone" for the checks after each undo, never "holds"', async () => {
    await inSandbox(async (host, stateDir) => {
      expect((await host.runbook(['run', 'single-container', '--state-dir', stateDir])).exitCode).toBe(0);
      expect((await host.runbook(['rollback', '--state-dir', stateDir])).exitCode).toBe(0);
      const journal = await host.runbook(['journal', 'latest', '--state-dir', stateDir]);
      const lines = journal.stdout.split('\n');
      // The rollback-start entry: "rollback: N step(s), in reverse order: …".
      const rollbackAt = lines.findIndex((l) => l.includes('in reverse order:'));
      expect(rollbackAt).toBeGreaterThan(0);
      const afterRollback = lines.slice(rollbackAt);
      expect(afterRollback.some((l) => l.includes('✓ gone'))).toBe(true);
      expect(afterRollback.some((l) => l.includes('✓ holds'))).toBe(false);
    });
  });

  it('--sandbox states what it isolates, and refuses a runbook that would write a real file it could never roll back', async () => {
    const dir = tempDir();
    try {
      const file = fixture(
        dir,
        'writes-a-file',
        `  - id: file
    title: Write a file
    why: w
    do:
      - [touch, ${path.join(dir, 'written')}]
    verify:
      - run: [test, -e, ${path.join(dir, 'written')}]
    undo:
      - [rm, -f, ${path.join(dir, 'written')}]
`,
      );
      await inSandbox(async (host, stateDir) => {
        const run = await host.runbook(['run', file, '--sandbox', '--state-dir', stateDir]);
        expect(run.exitCode, run.stdout + run.stderr).toBe(2);
        expect(run.stderr).toContain(
          "would change the real host's files or sysctls, which a one-shot sandbox does not isolate",
        );
        expect(run.stderr).toContain(`file: touch ${path.join(dir, 'written')}`);
        expect(existsSync(path.join(dir, 'written'))).toBe(false);

        const shipped = await host.runbook(['run', 'single-container', '--sandbox', '--state-dir', stateDir]);
        expect(shipped.exitCode, shipped.stdout + shipped.stderr).toBe(0);
        expect(shipped.stdout).toContain('isolated: the network');
        expect(shipped.stderr).not.toContain('may read');
      });
    } finally {
      removeDir(dir);
    }
  });
});
