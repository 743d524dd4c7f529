import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalIds, journalLines, runs } from '../helpers/cli-harness.js';
import { SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 28, item 4: a condition on a whole step (`when:`), on a real kernel. A step whose
 * condition does not hold is skipped, and the journal says so with the reason; resume does not
 * ask again, rollback has nothing of it to undo, `check` skips it too, and a step that uses a
 * value the skipped step would have exported fails with a reason saying so.
 */

let host: SandboxHost;
let stateDir: string;
let dir: string;
beforeAll(async () => {
  host = await SandboxHost.create();
  stateDir = tempDir();
  dir = tempDir('runbook-when-');
});
afterAll(() => {
  host?.dispose();
  if (stateDir !== undefined) removeDir(stateDir);
  if (dir !== undefined) removeDir(dir);
});

const runbook = (args: string[], env: Record<string, string> = {}) =>
  host.runbook(['--state-dir', stateDir, ...args], { env });

function expectExit(result: ExecResult, code: number): void {
  expect(result.exitCode, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}

const source = `name: optional
description: a link made only when asked
parameters:
  extra: { type: enum, values: ["yes", "no"], default: "no" }
steps:
  - id: base
    title: Create w0
    why: always
    do: [[ip, link, add, name, w0, type, veth, peer, name, w1]]
    verify: [{ run: [ip, link, show, dev, w0] }]
    undo: [[ip, link, del, dev, w0]]
  - id: extra
    title: Create x0
    why: only when asked
    when: { run: [test, "{{extra}}", "=", "yes"] }
    do: [[ip, link, add, name, x0, type, veth, peer, name, x1]]
    verify: [{ run: [ip, link, show, dev, x0] }]
    undo: [[ip, link, del, dev, x0]]
    export:
      mac: { run: [ip, -j, link, show, dev, x0], json: 0.address }
  - id: last
    title: Bring w0 up
    why: always
    do: [[ip, link, set, dev, w0, up]]
    verify:
      - run: [ip, -j, link, show, dev, w0]
        expect: { json: { flags: [UP] } }
    undo: [[ip, link, set, dev, w0, down]]
`;

describe('when: (issue 28, item 4) on a real kernel', () => {
  it('a step whose condition does not hold is skipped and journaled with the reason; the others run, resume and rollback go past it', async () => {
    const file = path.join(dir, 'optional.yaml');
    writeFileSync(file, source);
    const before = await host.snapshot();

    const run = await runbook(['run', file, '--until', 'extra']);
    expectExit(run, 0);
    expect(run.stdout).toMatch(
      /skipped +extra +Create x0 .*\(its "when:" \(test no = yes\) does not hold: expected exit status 0, got 1\)/,
    );
    const runId = journalIds(stateDir).at(-1) as string;
    const lines = journalLines(stateDir, runId);
    const at = lines.findIndex((l) => l.type === 'step-start' && l.step === 'extra');
    expect(lines.slice(at, at + 5).map((l) => [l.type, 'phase' in l ? l.phase : undefined])).toEqual([
      ['step-start', undefined],
      ['command-start', 'when'],
      ['command-end', 'when'],
      ['check', 'when'],
      ['step-end', undefined],
    ]);
    expect(lines[at + 4]).toMatchObject({
      type: 'step-end',
      step: 'extra',
      outcome: 'skipped',
      reason: 'its "when:" (test no = yes) does not hold: expected exit status 0, got 1',
    });
    expect(lines.some((l) => l.type === 'command-start' && l.step === 'extra' && l.phase !== 'when')).toBe(false);
    // `runbook journal` shows it.
    const shown = await runbook(['journal', runId]);
    expect(shown.stdout).toContain('⇒ skipped (');
    expect(shown.stdout).toContain('its "when:" (test no = yes) does not hold');

    // Resume does not ask again: the step is done with.
    const resumed = await runbook(['resume']);
    expectExit(resumed, 0);
    const after = journalLines(stateDir, runId).slice(lines.length);
    expect(after.some((l) => 'step' in l && l.step === 'extra' && l.type !== 'command-start')).toBe(false);
    expect(runs(stateDir).find((r) => r.id === runId)?.status).toBe('succeeded');

    // `check` skips it too, as TAP does.
    const check = await runbook(['check', file]);
    expectExit(check, 0);
    expect(check.stdout).toMatch(/ok +extra +Create x0 .*# SKIP its "when:" \(test no = yes\) does not hold/);

    // Rollback: nothing of it to undo.
    const rollback = await runbook(['rollback']);
    expectExit(rollback, 0);
    expect(rollback.stdout).not.toContain('extra');
    expect(await host.snapshot()).toEqual(before);
  });

  it('when it holds, the step runs; a later step that uses what a skipped step exports fails, saying why', async () => {
    const file = path.join(dir, 'uses.yaml');
    writeFileSync(
      file,
      `${source}  - id: uses
    title: Use the MAC of x0
    why: it needs the value
    verify:
      - run: [ip, -j, link, show, dev, x0]
        expect: { json: { address: "{{mac}}" } }
`,
    );
    const yes = await runbook(['run', file, '--set', 'extra=yes']);
    expectExit(yes, 0);
    expect(yes.stdout).toMatch(/changed +extra /);
    expect(yes.stdout).toMatch(/ok +uses /);
    expectExit(await runbook(['rollback']), 0);

    const no = await runbook(['run', file]);
    expectExit(no, 1);
    expect(no.stderr).toContain('step uses failed: Use the MAC of x0');
    expect(no.stderr).toContain(
      'did not run: it uses {{mac}}, which step extra exports, but step extra was skipped (its "when:" did not hold), so it exported nothing',
    );
    // Nothing of `uses` ran.
    const lines = journalLines(stateDir, journalIds(stateDir).at(-1) as string);
    expect(lines.some((l) => l.type === 'command-start' && l.step === 'uses')).toBe(false);
    expectExit(await runbook(['rollback']), 0);
  });
});
