import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalIds, journalLines } from '../helpers/cli-harness.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';

/**
 * Issue 12's command options on a real kernel, with a runbook of the test's own: "add, or change
 * if it exists" in one step (ok_exit: [0, 2] on `ip link add`, which says "File exists" with
 * status 2), captures that extract (an optional regex group for the old mode, a JSON path for the
 * old MAC) used by undo, a verify with retries, conditions in undo. Rollback must put back
 * exactly what was there: the old mode and MAC of a link that existed, or no link at all.
 * Everything runs in one SandboxHost (its own network namespace).
 */

const source = `name: macvlan-repair
description: a macvlan link in the given mode and with the given MAC, made or repaired
parameters:
  parent: { type: interface, default: p0 }
  link: { type: interface, default: mv0 }
  mode: { type: enum, values: [private, vepa, bridge, passthru], default: bridge }
  mac: { type: mac, default: "02:00:00:00:00:aa" }
steps:
  - id: macvlan
    title: "{{link}} is a macvlan on {{parent}} in {{mode}} mode"
    why: made, or its mode repaired
    capture:
      old_mode: { run: [ip, -d, link, show, dev, "{{link}}"], ok_exit: [0, 1], regex: "^(?:[\\\\s\\\\S]*macvlan mode (\\\\w+))?" }
    do:
      - { run: [ip, link, add, link, "{{parent}}", name, "{{link}}", type, macvlan, mode, "{{mode}}"], ok_exit: [0, 2] }
      - [ip, link, set, dev, "{{link}}", type, macvlan, mode, "{{mode}}"]
    verify:
      - run: [ip, -j, -d, link, show, dev, "{{link}}"]
        expect: { json: { linkinfo: { info_kind: macvlan, info_data: { mode: "{{mode}}" } } } }
    undo:
      - { run: [ip, link, del, dev, "{{link}}"], if: { run: [test, -z, "{{old_mode}}"] } }
      - { run: [ip, link, set, dev, "{{link}}", type, macvlan, mode, "{{old_mode}}"], unless: { run: [test, -z, "{{old_mode}}"] } }
  - id: mac
    title: "{{link}} has the address {{mac}}"
    why: set, the old one restored on rollback
    capture:
      old_mac: { run: [ip, -j, link, show, dev, "{{link}}"], json: 0.address }
    do:
      - [ip, link, set, dev, "{{link}}", address, "{{mac}}"]
    verify:
      - run: [ip, -j, link, show, dev, "{{link}}"]
        expect: { json: { address: "{{mac}}" } }
        retries: 2
        delay: 0.1
    undo:
      - [ip, link, set, dev, "{{link}}", address, "{{old_mac}}"]
`;

let host: SandboxHost;
let stateDir: string;
let dir: string;
let file: string;

beforeAll(async () => {
  host = await SandboxHost.create({ setUp: false });
  stateDir = tempDir();
  dir = tempDir('runbook-macvlan-');
  file = path.join(dir, 'macvlan-repair.yaml');
  writeFileSync(file, source);
  const parent = await host.exec(['ip', 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
  expect(parent.exitCode, parent.stderr).toBe(0);
});
afterAll(() => {
  host?.dispose();
  removeDir(stateDir);
  if (dir !== undefined) removeDir(dir);
});

const runbook = (args: string[]) => host.runbook(['--state-dir', stateDir, ...args]);
function expectExit(result: Pick<ExecResult, 'exitCode' | 'stdout' | 'stderr'>, code: number): void {
  expect(result.exitCode, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}

/** mv0's mode and MAC as the kernel reports them, or null when there is no mv0. */
async function mv0(): Promise<{ mode: string; address: string } | null> {
  const shown = await host.exec(['ip', '-j', '-d', 'link', 'show', 'dev', 'mv0']);
  if (shown.exitCode !== 0) return null;
  const [link] = JSON.parse(shown.stdout) as Array<{ address: string; linkinfo: { info_data: { mode: string } } }>;
  return { mode: link?.linkinfo.info_data.mode ?? '', address: link?.address ?? '' };
}

describe('add, or change if it exists (ok_exit, captures, conditions, retries) in a sandbox host', () => {
  it('repairs an existing link in the wrong mode, and rollback restores its mode and MAC exactly', async () => {
    expectExit(
      await host.exec([
        'ip',
        'link',
        'add',
        'link',
        'p0',
        'name',
        'mv0',
        'address',
        '02:00:00:00:00:01',
        'type',
        'macvlan',
        'mode',
        'private',
      ]),
      0,
    );
    const before = await mv0();
    expect(before).toEqual({ mode: 'private', address: '02:00:00:00:00:01' });

    expectExit(await runbook(['run', file]), 0);
    expect(await mv0()).toEqual({ mode: 'bridge', address: '02:00:00:00:00:aa' });
    const runId = journalIds(stateDir).at(-1) as string;
    const lines = journalLines(stateDir, runId);
    // `ip link add` said "File exists" (2), accepted: the step went on to set the mode.
    const add = lines.find(
      (l) => l.type === 'command-end' && l.phase === 'do' && l.step === 'macvlan' && l.index === 0,
    );
    expect(add).toMatchObject({ exitCode: 2, accepted: true });
    expect(
      lines.filter((l) => l.type === 'capture').map((l) => (l.type === 'capture' ? [l.name, l.value] : [])),
    ).toEqual([
      ['old_mode', 'private'],
      ['old_mac', '02:00:00:00:00:01'],
    ]);

    expectExit(await runbook(['run', file]), 0); // nothing to do: every step ok
    expect(
      journalLines(stateDir, journalIds(stateDir).at(-1) as string).some(
        (l) => l.type === 'command-start' && l.phase === 'do',
      ),
    ).toBe(false);

    expectExit(await runbook(['rollback', runId]), 0);
    expect(await mv0()).toEqual(before);
    const undoLines = journalLines(stateDir, runId);
    expect(
      undoLines.filter((l) => l.type === 'command-skipped').map((l) => (l.type === 'command-skipped' ? l.reason : '')),
    ).toEqual([expect.stringContaining('its "if" does not hold') as unknown as string]);
  });

  it('creates the link when there is none, and rollback deletes it', async () => {
    await host.exec(['ip', 'link', 'del', 'dev', 'mv0']);
    expect(await mv0()).toBeNull();
    expectExit(await runbook(['run', file, '--set', 'mode=vepa']), 0);
    expect((await mv0())?.mode).toBe('vepa');
    expectExit(await runbook(['rollback']), 0);
    expect(await mv0()).toBeNull();
  });
});
