import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalIds, journalLines, onlyRunId } from '../helpers/cli-harness.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { cliPath, SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { execa } from 'execa';

/**
 * runbooks/forward-filter.yaml, the example of docs/write-your-own.md, on a real kernel: an
 * iptables chain with a rule per subnet of a list parameter, a jump to it, ip_forward, a line
 * appended to a file and a whole file written, with no shell. Run killed mid-way, resumed, run
 * again (nothing changes), rolled back: the chain, the sysctl and both files are exactly as
 * before. Everything runs in one SandboxHost (its own network namespace: the iptables and
 * sysctl changes are the sandbox's); the files live only in a temp dir this test creates.
 */

let host: SandboxHost;
let stateDir: string;
let filesDir: string;
let sysctlFile: string;
let settingsFile: string;
const sysctlBefore = '# kept by the test\nkernel.printk = 4 4 1 7\n';

beforeAll(async () => {
  host = await SandboxHost.create({ setUp: false });
  stateDir = tempDir();
  filesDir = tempDir('runbook-forward-filter-');
  sysctlFile = path.join(filesDir, 'sysctl.d', '90-forward.conf');
  settingsFile = path.join(filesDir, 'forward-filter.conf');
});
afterAll(() => {
  host?.dispose();
  removeDir(stateDir);
  if (filesDir !== undefined) removeDir(filesDir);
});

const set = () => [
  '--set',
  `sysctl_file=${sysctlFile}`,
  '--set',
  `settings_file=${settingsFile}`,
  '--set',
  'subnets=192.0.2.0/24,198.18.0.0/15',
];
const runbook = (args: string[], env: Record<string, string> = {}) =>
  host.runbook(['--state-dir', stateDir, ...args], { env: env });

function expectExit(result: ExecResult, code: number): void {
  expect(result.exitCode, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(code);
}

/** What the runbook touches: the filter table's rules, ip_forward, and the two files. */
async function state() {
  const rules = await host.exec(['iptables', '-w', '5', '-S']);
  expect(rules.exitCode, rules.stderr).toBe(0);
  const forward = await host.exec(['sysctl', '-n', 'net.ipv4.ip_forward']);
  return {
    rules: rules.stdout,
    ipForward: forward.stdout.trim(),
    sysctlFile: existsSync(sysctlFile) ? readFileSync(sysctlFile, 'utf8') : null,
    settingsFile: existsSync(settingsFile) ? readFileSync(settingsFile, 'utf8') : null,
  };
}

describe('forward-filter (docs/write-your-own.md) in a sandbox host', () => {
  it('refuses a chain name iptables would refuse, before touching anything (exit 2)', async () => {
    const result = await runbook(['run', 'forward-filter', ...set(), '--set', `chain=${'A'.repeat(29)}`]);
    expectExit(result, 2);
    expect(result.stderr).toContain('expected at most 28 characters, got 29');
    expect(existsSync(path.join(stateDir, 'runs'))).toBe(false);
  });

  it('killed mid-way, resumed, run again, rolled back: everything exactly as before', async () => {
    // Before: the sysctl file exists with content of its own; the settings file does not.
    await host.exec(['mkdir', '-p', path.dirname(sysctlFile)]);
    writeFileSync(sysctlFile, sysctlBefore);
    const before = await state();
    expect(before.rules).not.toContain('RUNBOOK-FILTER');

    // Killed right after the 20th command, the `tee -a` of persist-forwarding, ran and before
    // its result reached the journal.
    const killed = await runbook(['run', 'forward-filter', ...set()], { RUNBOOK_FAULT_KILL: 'command:20' });
    expect(killed.signal).toBe('SIGKILL');
    const runId = onlyRunId(stateDir);
    const last = journalLines(stateDir, runId).at(-1);
    expect(last).toMatchObject({ type: 'command-start', step: 'persist-forwarding', phase: 'do' });
    expect(readFileSync(sysctlFile, 'utf8')).toBe(`${sysctlBefore}net.ipv4.ip_forward = 1\n`);

    const resumed = await runbook(['resume']);
    expectExit(resumed, 0);
    const after = await state();
    expect(after.rules).toContain('-N RUNBOOK-FILTER');
    expect(after.rules).toContain('-A FORWARD -j RUNBOOK-FILTER');
    expect(after.rules).toContain('-A RUNBOOK-FILTER -s 192.0.2.0/24 -j DROP');
    expect(after.rules).toContain('-A RUNBOOK-FILTER -s 198.18.0.0/15 -j DROP');
    expect(after.ipForward).toBe('1');
    // The line is there once: the resume found it in place rather than appending it again.
    expect(after.sysctlFile).toBe(`${sysctlBefore}net.ipv4.ip_forward = 1\n`);
    expect(after.settingsFile).toBe(
      '# written by runbook forward-filter\nchain=RUNBOOK-FILTER\ntarget=DROP\nsubnets=192.0.2.0/24,198.18.0.0/15\n',
    );

    // Run again: every step holds, no do command runs, nothing changes.
    const again = await runbook(['run', 'forward-filter', ...set(), '--json']);
    expectExit(again, 0);
    const events = again.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: string; outcome?: string });
    const outcomes = events.filter((e) => e.event === 'step').map((e) => e.outcome);
    expect(outcomes).toHaveLength(8);
    expect(new Set(outcomes)).toEqual(new Set(['ok']));
    expect(await state()).toEqual(after);

    // Rollback (of the first run: the second changed nothing) restores everything exactly.
    const rollback = await runbook(['rollback']);
    expectExit(rollback, 0);
    expect(rollback.stdout).toContain(`run ${runId} rolled back`);
    expect(await state()).toEqual(before);
    expectExit(await runbook(['rollback']), 0);
    expect(await state()).toEqual(before);
  });

  it("run --sandbox with its defaults writes its files in the sandbox host's own scratch tmpfs, never in the real /etc", async () => {
    const realFiles = ['/etc/sysctl.d/90-runbook-forward.conf', '/etc/runbook-forward-filter.conf'];
    const before = realFiles.map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : null));
    const dir = tempDir();
    try {
      // The one-shot sandbox makes its own throwaway host (unshare --net --mount).
      const run = await execa(process.execPath, [cliPath, '--state-dir', dir, 'run', 'forward-filter', '--sandbox'], {
        reject: false,
      });
      expect(run.exitCode, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stdout).toContain('succeeded');
      expect(realFiles.map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : null))).toEqual(before);
    } finally {
      removeDir(dir);
    }
  });

  it('a settings file that is not text is never overwritten: its bytes cannot be kept exactly for undo (issue 11)', async () => {
    const binary = Buffer.from([0x23, 0x20, 0xff, 0xfe, 0x00, 0x0a]);
    writeFileSync(settingsFile, binary);
    const run = await runbook(['run', 'forward-filter', ...set()]);
    expectExit(run, 1);
    expect(run.stdout).toMatch(/failed +settings-file /);
    expect(readFileSync(settingsFile)).toEqual(binary);
    const lines = journalLines(stateDir, journalIds(stateDir).sort().at(-1) as string);
    expect(JSON.stringify(lines)).toContain('its output is not UTF-8 text, so it could not be kept exactly for undo');
    expectExit(await runbook(['rollback']), 0);
    expect(readFileSync(settingsFile)).toEqual(binary);
  });
});
