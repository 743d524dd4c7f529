import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toShellLine } from '../../src/text/shell-words.js';
import { cliPath, SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { expectExit, insideSandbox, machineState, netnsNames } from './sandbox-nested.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 18: every command runbook prints for the user to type (next steps, hints, fixes) is
 * right where the user is. Under `runbook --in lab …` the user sits outside the sandbox: a bare
 * `runbook resume ID` would find no run there, and a bare `ip route add …` would change their
 * real machine. So every suggestion printed under --in is scanned, and several are then typed
 * exactly as printed, from outside, to show they act inside the lab.
 *
 * Everything runs inside a SandboxHost (its own network + mount namespaces), and the lab is
 * nested in it: "outside" is the SandboxHost, never this machine.
 */

const verbs = 'run|resume|rollback|check|journal|runs|show|list|graph|sandbox';

/**
 * The suggestions in `text` that would act outside the sandbox `name`: a `runbook VERB` not
 * reaching in (with --in NAME or `sandbox shell NAME`), or a fix that is a bare command.
 */
export function outsideSuggestions(text: string, name: string): string[] {
  const problems: string[] = [];
  const reachesIn = new RegExp(
    `^runbook (?:--state-dir \\S+ )?(?:--in ${name} (?:${verbs})\\b|sandbox shell ${name}\\b)`,
  );
  for (const match of text.matchAll(
    new RegExp(`\\brunbook (?:--state-dir \\S+ )?(?:--in \\S+ )?(?:${verbs})\\b.*`, 'g'),
  )) {
    if (!reachesIn.test(match[0])) problems.push(match[0]);
  }
  for (const match of text.matchAll(/^\s*(?:\d+\. )?fix: +(.*)$/gm)) {
    const fix = match[1] ?? '';
    if (!fix.startsWith('runbook ') && !fix.startsWith('in `runbook ')) problems.push(`fix: ${fix}`);
  }
  return problems;
}

/** The first `…` command in `text` that starts with `runbook`, after `label`. */
function suggested(text: string, label: RegExp): string {
  const found = new RegExp(`${label.source}\\s*\`?(runbook [^\`\\n]*)`).exec(text)?.[1];
  if (found === undefined) throw new Error(`no suggestion after ${label} in:\n${text}`);
  return found.trim();
}

describe('the scanner itself (no kernel)', () => {
  it('flags bare runbook commands, --in another sandbox and bare fixes; passes the forms that reach in', () => {
    expect(outsideSuggestions('continue with `runbook resume 2026`', 'lab')).toHaveLength(1);
    expect(outsideSuggestions('continue with `runbook --in other resume 2026`', 'lab')).toHaveLength(1);
    expect(outsideSuggestions('             fix:      ip route add 172.16.0.0/24 dev veth1', 'lab')).toHaveLength(1);
    expect(outsideSuggestions('  1. cause: x\n     fix:   sysctl -w a=0', 'lab')).toHaveLength(1);
    expect(
      outsideSuggestions(
        [
          'continue with `runbook --in lab resume 2026`',
          "  fix:    runbook sandbox shell lab -c 'ip route add 172.16.0.0/24 dev veth1'",
          "     fix:   runbook --state-dir /s sandbox shell lab -c 'sysctl -w a=0'",
          'list them with: runbook --state-dir /s --in lab runs',
          'unknown runbook "nope"',
        ].join('\n'),
        'lab',
      ),
    ).toEqual([]);
  });
});

describe('under --in lab, every suggestion reaches into the lab, and works typed as printed', () => {
  let host: SandboxHost;
  let stateDir: string;
  let machineBefore: Record<string, unknown>;
  let hostBefore: Record<string, unknown>;
  /** Everything the CLI printed (not the command lines typed), for the final scan. */
  const printed: string[] = [];
  const env = () => ({ RUNBOOK_STATE_DIR: stateDir, PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' });
  const lab = () => insideSandbox(host, stateDir, 'lab');
  /** The runbook CLI in the SandboxHost (outside the lab); its output is kept for the scan. */
  const runbook = async (args: readonly string[]): Promise<ExecResult> => {
    const result = await host.runbook(args, { env: env() });
    printed.push(result.stdout + result.stderr);
    return result;
  };
  /** Types a printed suggestion into bash in the SandboxHost, where `runbook` is this checkout's CLI. */
  const type = async (line: string): Promise<ExecResult> => {
    const result = await host.exec(
      ['bash', '-c', `runbook() { ${toShellLine([process.execPath, cliPath])} "$@"; }; ${line}`],
      {
        env: env(),
      },
    );
    printed.push(result.stdout + result.stderr);
    return result;
  };

  beforeAll(async () => {
    stateDir = tempDir('runbook-suggest-');
    machineBefore = await machineState(stateDir);
    host = await SandboxHost.create();
    hostBefore = await host.snapshot();
    // From outside, not under --in: its output is not scanned.
    expectExit(await host.runbook(['sandbox', 'create'], { env: env() }), 0);
  });

  afterAll(async () => {
    await host?.runbook(['sandbox', 'destroy', 'lab'], { env: env() });
    host?.dispose();
    expect(await machineState(stateDir), "this machine's own links, routes, namespaces and mounts").toEqual(
      machineBefore,
    );
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('run --until: the printed resume, typed outside, resumes the lab run', async () => {
    const stopped = await runbook(['--in', 'lab', 'run', 'single-container', '--until', 'container-address']);
    expectExit(stopped, 0);
    const resume = suggested(stopped.stdout, /continue with/);
    expect(resume).toMatch(/^runbook --in lab resume \S+$/);

    const check = await runbook(['--in', 'lab', 'check', 'single-container']);
    expectExit(check, 1);
    // The fixes reach in through `sandbox shell lab -c`; the repair through --in.
    expect(check.stdout).toContain("fix:   runbook sandbox shell lab -c 'ip route add 172.16.0.0/24 dev veth1'");
    expect(suggested(check.stdout, /or let/)).toBe('runbook --in lab run single-container');

    expectExit(await type(resume), 0);
    expect(await netnsNames(lab())).toEqual(['container1', 'lan']);
    expect(await host.snapshot()).toEqual(hostBefore);
  });

  it('a failed run: its fix, typed outside, repairs the lab (not the outer host); its resume then succeeds', async () => {
    expectExit(await lab().exec(['sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1']), 0);
    expectExit(await lab().exec(['ip', '-n', 'container1', 'route', 'del', 'default']), 0);
    const failed = await runbook(['--in', 'lab', 'run', 'single-container']);
    expectExit(failed, 1);
    const fix = /^ +fix: +(.*)$/m.exec(failed.stderr)?.[1] ?? '';
    expect(fix).toBe("runbook sandbox shell lab -c 'sysctl -w net.ipv4.conf.all.arp_ignore=0'");
    const resume = suggested(failed.stderr, /then/);

    const outerArpIgnore = (await host.exec(['cat', '/proc/sys/net/ipv4/conf/all/arp_ignore'])).stdout;
    expectExit(await type(fix), 0);
    expect((await lab().exec(['cat', '/proc/sys/net/ipv4/conf/all/arp_ignore'])).stdout.trim()).toBe('0');
    expect((await host.exec(['cat', '/proc/sys/net/ipv4/conf/all/arp_ignore'])).stdout).toBe(outerArpIgnore);
    expectExit(await type(resume), 0);
    expect(await host.snapshot()).toEqual(hostBefore);
  });

  it('hints of refusals reach in too: an unknown run, an empty runbook name, a bad parameter', async () => {
    expect((await runbook(['--in', 'lab', 'resume', 'nope'])).stderr).toContain(
      'list them with: runbook --in lab runs',
    );
    expect((await runbook(['--in', 'lab', 'run', ''])).stderr).toContain('list them with: runbook --in lab list');
    expect((await runbook(['--in', 'lab', 'check', 'single-container', '--set', 'nope=1'])).stderr).toContain(
      'runbook --in lab show single-container',
    );
  });

  it('with an explicit outer --state-dir, suggestions repeat it, and work typed as printed', async () => {
    const stopped = await host.runbook(
      ['--state-dir', stateDir, '--in', 'lab', 'run', 'single-container', '--until', 'namespace'],
      { env: { PATH: env().PATH } },
    );
    printed.push(stopped.stdout + stopped.stderr);
    expectExit(stopped, 0);
    const resume = suggested(stopped.stdout, /continue with/);
    expect(resume).toBe(`runbook --state-dir ${stateDir} --in lab resume ${resume.split(' ').at(-1)}`);
    const typed = await host.exec(
      ['bash', '-c', `runbook() { ${toShellLine([process.execPath, cliPath])} "$@"; }; ${resume}`],
      {
        env: { PATH: env().PATH },
      },
    );
    expectExit(typed, 0);
  });

  it('sandbox shell -c: the user is outside, so what runbook prints in there reaches in from outside', async () => {
    const result = await runbook(['sandbox', 'shell', 'lab', '-c', 'runbook run single-container --until namespace']);
    expectExit(result, 0);
    expect(suggested(result.stdout, /continue with/)).toMatch(/^runbook --in lab resume \S+$/);
  });

  it('not one suggestion printed above would act outside the lab', () => {
    expect(printed.length).toBeGreaterThan(8);
    expect(outsideSuggestions(printed.join('\n'), 'lab')).toEqual([]);
  });
});
