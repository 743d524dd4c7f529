import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inSandbox, journalIds } from '../helpers/cli-harness.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { cliPath, type SandboxHost } from '../helpers/sandbox-host.js';
import { resolvesOnPath } from '../../src/host/preflight.js';

/**
 * Issue 11, item 5: every program a runbook's plan names must be on PATH before anything
 * changes. Tried in a sandbox host with a PATH that lacks ping (and iptables): exit 2, each
 * missing program named with its Debian package, no journal, the host unchanged.
 */

/** A directory of links to the programs given (found on this machine's PATH), to be the whole PATH. */
function pathWith(programs: readonly string[]): string {
  const dir = tempDir('runbook-path-');
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  for (const program of programs) {
    const found = (process.env.PATH ?? '')
      .split(':')
      .map((d) => path.join(d, program))
      .find((file) => resolvesOnPath(file));
    if (found === undefined) throw new Error(`${program} is not installed on this machine`);
    symlinkSync(found, path.join(bin, program));
  }
  return bin;
}

function runbookWithPath(host: SandboxHost, bin: string, args: readonly string[]) {
  return host.exec(['env', `PATH=${bin}`, process.execPath, cliPath, ...args]);
}

describe('preflight: programs resolve on PATH before any change', () => {
  it('without ping: single-container exits 2 naming ping and iputils-ping, and changes nothing', async () => {
    const bin = pathWith(['ip', 'cat', 'sysctl', 'iptables']);
    try {
      await inSandbox(async (host, stateDir) => {
        const before = await host.snapshot();
        const result = await runbookWithPath(host, bin, ['run', 'single-container', '--state-dir', stateDir]);
        expect(result.exitCode, result.stdout + result.stderr).toBe(2);
        expect(result.stderr).toContain('ping (Debian package iputils-ping)');
        expect(result.stderr).toContain('nothing was changed');
        expect(result.stderr).toContain('apt-get install iputils-ping');
        expect(result.stderr).not.toContain('ip (');
        expect(await host.snapshot()).toEqual(before);
        expect(journalIds(stateDir)).toEqual([]);
      });
    } finally {
      removeDir(path.dirname(bin));
    }
  });

  it('without ping and iptables: container-internet names both, before any of its 29 steps', async () => {
    const bin = pathWith(['ip', 'cat', 'sysctl']);
    try {
      await inSandbox(async (host, stateDir) => {
        const before = await host.snapshot();
        const result = await runbookWithPath(host, bin, ['run', 'container-internet', '--state-dir', stateDir]);
        expect(result.exitCode, result.stdout + result.stderr).toBe(2);
        expect(result.stderr).toContain('iptables (Debian package iptables)');
        expect(result.stderr).toContain('ping (Debian package iputils-ping)');
        expect(result.stderr).not.toMatch(/forwarding/);
        expect(await host.snapshot()).toEqual(before);
        expect(journalIds(stateDir)).toEqual([]);
      });
    } finally {
      removeDir(path.dirname(bin));
    }
  });

  it('read: checks need no program: single-container runs, re-runs and rolls back with only ip and ping on PATH', async () => {
    const bin = pathWith(['ip', 'ping']);
    try {
      await inSandbox(async (host, stateDir) => {
        const before = await host.snapshot();
        const args = ['--state-dir', stateDir];
        const first = await runbookWithPath(host, bin, ['run', 'single-container', ...args]);
        expect(first.exitCode, first.stdout + first.stderr).toBe(0);
        const again = await runbookWithPath(host, bin, ['run', 'single-container', ...args]);
        expect(again.exitCode, again.stdout + again.stderr).toBe(0);
        const ids = journalIds(stateDir);
        expect(ids).toHaveLength(2);
        const back = await runbookWithPath(host, bin, ['rollback', ids[0] ?? '', ...args]);
        expect(back.exitCode, back.stdout + back.stderr).toBe(0);
        expect(await host.snapshot()).toEqual(before);
      });
    } finally {
      removeDir(path.dirname(bin));
    }
  });

  it('check says what is missing too, instead of blaming the host', async () => {
    const bin = pathWith(['ip', 'cat', 'sysctl']);
    try {
      await inSandbox(async (host, stateDir) => {
        const result = await runbookWithPath(host, bin, ['check', 'single-container', '--state-dir', stateDir]);
        expect(result.exitCode, result.stdout + result.stderr).toBe(2);
        expect(result.stderr).toContain('ping (Debian package iputils-ping)');
      });
    } finally {
      removeDir(path.dirname(bin));
    }
  });
});
