import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { SandboxHost } from '../helpers/sandbox-host.js';

/**
 * `undo: none` through the CLI: rollback says which step it leaves as it is and why, undoes the
 * others, exits 0, and a second rollback has nothing to do. The runbook writes two files in a
 * temp dir this test creates; the CLI runs inside a SandboxHost like every CLI test.
 */

let host: SandboxHost;
let stateDir: string;
let dir: string;

beforeAll(async () => {
  host = await SandboxHost.create({ setUp: false });
  stateDir = tempDir();
  dir = tempDir('runbook-not-undoable-');
  writeFileSync(
    path.join(dir, 'notes.yaml'),
    `name: notes
description: a file that is removed on rollback, and a log line that stays
parameters:
  dir: { type: path }
steps:
  - id: config
    title: Write {{dir}}/config
    why: x
    do: [{ run: [tee, "{{dir}}/config"], stdin: "on\\n" }]
    verify: [{ run: [grep, -qx, "on", "{{dir}}/config"] }]
    undo: [[rm, -f, "{{dir}}/config"]]
  - id: log
    title: Log the change
    why: x
    do: [{ run: [tee, -a, "{{dir}}/log"], stdin: "config written\\n" }]
    verify: [{ run: [grep, -qx, "config written", "{{dir}}/log"] }]
    undo: { none: "a log keeps what happened" }
`,
  );
});
afterAll(() => {
  host?.dispose();
  removeDir(stateDir);
  if (dir !== undefined) removeDir(dir);
});

describe('undo: none, through the CLI', () => {
  it('rollback leaves the step as it is, says why, undoes the rest; a second rollback does nothing', async () => {
    const sd = ['--state-dir', stateDir];
    const run = await host.runbook([...sd, 'run', path.join(dir, 'notes.yaml'), '--set', `dir=${dir}`]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'config'), 'utf8')).toBe('on\n');

    const rollback = await host.runbook([...sd, 'rollback']);
    expect(rollback.exitCode, rollback.stderr).toBe(0);
    expect(rollback.stdout).toContain('not-undoable log  (left as it is: a log keeps what happened)');
    expect(rollback.stdout).toMatch(/rolled back: 1 step\(s\) undone; 1 step\(s\) not undoable, left as they are: log/);
    expect(existsSync(path.join(dir, 'config'))).toBe(false);
    expect(readFileSync(path.join(dir, 'log'), 'utf8')).toBe('config written\n');

    const again = await host.runbook([...sd, 'rollback']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('nothing to roll back');
  });
});
