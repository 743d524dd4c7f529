import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalLine } from '../../src/journal/entries.js';
import { journalFile } from '../../src/journal/paths.js';
import { readJournal } from '../../src/journal/reader.js';
import { listRunIndexes } from '../../src/journal/run-index.js';
import { SandboxHost } from '../helpers/sandbox-host.js';
import { tempDir } from '../helpers/temp-dir.js';
import { expectExit, insideSandbox, machineState } from './sandbox-nested.js';

/**
 * Issue 16: a `read:` check reads /proc/sys in the runbook process itself. It must read the
 * kernel the run acts on: the sandbox host's when the CLI runs there, the lab's when it re-executes
 * itself into a sandbox with `--in` (nsenter into its network and mount namespaces), never this
 * machine's. Each is proved with a setting given a different value in each place.
 *
 * Everything runs inside a SandboxHost; this machine's own settings are only read, never written.
 */

const setting = '/proc/sys/net/ipv4/conf/all/arp_ignore';
const sysctlName = 'net.ipv4.conf.all.arp_ignore';

const runbookText = `name: read-arp
description: the host's arp_ignore, read in-process
parameters:
  want: { type: string, pattern: "[0-9]" }
steps:
  - id: arp-ignore
    title: arp_ignore is {{want}}
    why: a read check reads the kernel it runs on
    verify:
      - read: ${setting}
        expect: { output_matches: "^{{want}}$" }
`;

const ofType = <T extends JournalLine['type']>(lines: readonly JournalLine[], type: T) =>
  lines.filter((l): l is Extract<JournalLine, { type: T }> => l.type === type);

describe('a read: check reads the kernel of the sandbox it runs in (real kernel)', () => {
  let host: SandboxHost;
  let stateDir: string;
  let file: string;
  let machineBefore: Record<string, unknown>;
  let machineValue: string;
  const env = () => ({ RUNBOOK_STATE_DIR: stateDir });

  beforeAll(async () => {
    stateDir = tempDir('runbook-read-');
    machineBefore = await machineState(stateDir);
    // This machine's value: read, never written.
    machineValue = readFileSync(setting, 'utf8').trim();
    host = await SandboxHost.create();
    file = path.join(stateDir, 'read-arp.yaml');
    writeFileSync(file, runbookText);
  });

  afterAll(async () => {
    await host?.runbook(['sandbox', 'destroy', 'lab'], { env: env() });
    host?.dispose();
    expect(readFileSync(setting, 'utf8').trim(), "this machine's own arp_ignore").toBe(machineValue);
    expect(await machineState(stateDir)).toEqual(machineBefore);
    rmSync(stateDir, { recursive: true, force: true });
  });

  /** A value of arp_ignore that none of `taken` has. */
  const otherThan = (...taken: string[]) => ['1', '2', '3'].find((v) => !taken.includes(v)) as string;

  it("sees the sandbox host's value, not this machine's, and journals the read with what it read", async () => {
    const inner = otherThan(machineValue);
    expectExit(await host.exec(['sysctl', '-qw', `${sysctlName}=${inner}`]), 0);
    expect((await host.exec(['cat', setting])).stdout.trim()).toBe(inner);

    expectExit(await host.runbook(['check', file, '--set', `want=${inner}`], { env: env() }), 0);
    const wrong = await host.runbook(['check', file, '--set', `want=${machineValue}`], { env: env() });
    expectExit(wrong, 1);
    expect(wrong.stdout).toContain(`check:    read ${setting}`);
    expect(wrong.stdout).toContain(`output does not match /^${machineValue}$/`);

    expectExit(await host.runbook(['run', file, '--set', `want=${inner}`], { env: env() }), 0);
    const [run] = listRunIndexes(stateDir);
    const lines = readJournal(journalFile(stateDir, run?.id ?? '')).lines;
    expect(ofType(lines, 'command-start')).toEqual([
      expect.objectContaining({ phase: 'check', argv: ['read', setting], read: setting }),
    ]);
    expect(ofType(lines, 'command-end')).toEqual([
      expect.objectContaining({ phase: 'check', exitCode: 0, stdout: `${inner}\n`, stderr: '' }),
    ]);
    const journal = await host.runbook(['journal', run?.id ?? ''], { env: env() });
    expect(journal.stdout).toContain(`read ${setting}   (read in-process)`);
  });

  it("through --in, the CLI re-executed into the lab reads the lab's value, not the sandbox host's", async () => {
    expectExit(await host.runbook(['sandbox', 'create'], { env: env() }), 0);
    const outer = (await host.exec(['cat', setting])).stdout.trim();
    const labValue = otherThan(machineValue, outer);
    const lab = insideSandbox(host, stateDir, 'lab');
    expectExit(await lab.exec(['sysctl', '-qw', `${sysctlName}=${labValue}`]), 0);
    expect((await host.exec(['cat', setting])).stdout.trim()).toBe(outer);

    expectExit(await host.runbook(['--in', 'lab', 'check', file, '--set', `want=${labValue}`], { env: env() }), 0);
    expectExit(await host.runbook(['--in', 'lab', 'check', file, '--set', `want=${outer}`], { env: env() }), 1);
  });
});

describe('single-container re-run with read checks (real kernel)', () => {
  let host: SandboxHost;
  let stateDir: string;

  beforeAll(async () => {
    stateDir = tempDir('runbook-read-sc-');
    host = await SandboxHost.create();
  });

  afterAll(() => {
    host?.dispose();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('journals every check, spawns no cat, and a changed arp_ignore is caught by the read and diagnosed', async () => {
    const before = await host.snapshot();
    expectExit(await host.runbook(['--state-dir', stateDir, 'run', 'single-container']), 0);
    expectExit(await host.runbook(['--state-dir', stateDir, 'run', 'single-container']), 0);
    const runs = listRunIndexes(stateDir);
    const rerun = readJournal(journalFile(stateDir, runs[runs.length - 1]?.id ?? '')).lines;
    const starts = ofType(rerun, 'command-start');
    // Every step verified against the kernel: 15 checks (move-container-end asks the host end too), each with its result and verdict.
    expect(starts).toHaveLength(15);
    expect(ofType(rerun, 'command-end')).toHaveLength(15);
    expect(ofType(rerun, 'check').every((c) => c.ok)).toBe(true);
    expect(starts.filter((s) => s.read !== undefined).map((s) => s.read)).toEqual([
      '/proc/sys/net/ipv4/conf/all/arp_ignore',
      '/proc/sys/net/ipv4/conf/veth1/arp_ignore',
    ]);
    expect(starts.filter((s) => s.argv[0] === 'cat')).toEqual([]);
    expect(ofType(rerun, 'command-end').filter((e) => e.stdout === '0\n')).toHaveLength(2);

    // The read sees the change (in the sandbox host's kernel), and its probe names the cause.
    expectExit(await host.exec(['sysctl', '-qw', 'net.ipv4.conf.veth1.arp_ignore=1']), 0);
    const check = await host.runbook(['--state-dir', stateDir, 'check', 'single-container']);
    expectExit(check, 1);
    expect(check.stdout).toContain('check:    read /proc/sys/net/ipv4/conf/veth1/arp_ignore');
    expect(check.stdout).toContain('net.ipv4.conf.veth1.arp_ignore >= 1');
    expectExit(await host.exec(['sysctl', '-qw', 'net.ipv4.conf.veth1.arp_ignore=0']), 0);

    expectExit(await host.runbook(['--state-dir', stateDir, 'rollback', runs[0]?.id ?? '']), 0);
    expect(await host.snapshot()).toEqual(before);
  });
});
