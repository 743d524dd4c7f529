import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkRunbook } from '../../src/engine/check.js';
import { runRunbook } from '../../src/engine/run.js';
import type { CommandRequest, CommandResult, Executor } from '../../src/exec/types.js';
import { commandsOf, requirePrograms } from '../../src/host/preflight.js';
import type { JournalLine } from '../../src/journal/entries.js';
import { journalFile } from '../../src/journal/paths.js';
import { readJournal } from '../../src/journal/reader.js';
import { formatTimeline } from '../../src/journal/timeline.js';
import { loadRunbook, parseRunbook } from '../../src/runbook/load.js';
import { resolveParams } from '../../src/runbook/params.js';
import { renderPlan } from '../../src/runbook/render.js';
import { reachesOutsideSandbox } from '../../src/sandbox/reach.js';
import { tempDirsRemovedAfterAll } from '../helpers/temp-dir.js';
import { thrown } from '../helpers/thrown.js';
import { storeAt } from '../helpers/store.js';

/**
 * Issue 16: the `read:` kind of check and probe. Parsed, rendered and refused where it does not
 * belong; journaled like a command with the marker argv ["read", path] and `read`; left out of
 * the programs preflight demands; judged by a sandbox's reach by the file it reads.
 */

const tempDir = tempDirsRemovedAfterAll('runbook-read-checks-');
const file = '/srv/runbooks/demo.yaml';

const source = `name: demo
description: reads
parameters:
  dev: { type: interface, default: veth1 }
  sub: { type: string, default: conf }
steps:
  - id: arp
    title: arp_ignore of {{dev}} is 0
    why: the host answers ARP for the container
    requires:
      - read: /proc/sys/net/ipv4/{{sub}}/all/arp_ignore
    do:
      - [sysctl, -w, "net.ipv4.conf.{{dev}}.arp_ignore=0"]
    verify:
      - read: "/proc/sys/net/ipv4/{{sub}}/{{dev}}/arp_ignore"
        expect: { output_matches: "^0$" }
        timeout: 2
        retries: 1
    undo:
      - [sysctl, -w, "net.ipv4.conf.{{dev}}.arp_ignore=1"]
    diagnose:
      - read: /proc/sys/net/ipv4/{{sub}}/{{dev}}/arp_ignore
        when: { exit: nonzero }
        cause: "{{dev}} does not exist"
`;

const planOf = (text: string, set: Record<string, string> = {}) => {
  const runbook = parseRunbook(text, file);
  return renderPlan(runbook.spec, resolveParams(runbook.spec, set, file));
};

describe('the read: form', () => {
  it('renders to the marker argv ["read", path] with the path, in requires, verify and diagnose', () => {
    const [step] = planOf(source).steps;
    expect(step?.requires).toEqual([
      {
        argv: ['read', '/proc/sys/net/ipv4/conf/all/arp_ignore'],
        read: '/proc/sys/net/ipv4/conf/all/arp_ignore',
        timeoutMs: 5000,
        expect: { exit: 0 },
      },
    ]);
    expect(step?.verify).toEqual([
      {
        argv: ['read', '/proc/sys/net/ipv4/conf/veth1/arp_ignore'],
        read: '/proc/sys/net/ipv4/conf/veth1/arp_ignore',
        timeoutMs: 2000,
        expect: { output_matches: '^0$' },
        retries: 1,
      },
    ]);
    expect(step?.diagnose[0]).toMatchObject({
      argv: ['read', '/proc/sys/net/ipv4/conf/veth1/arp_ignore'],
      read: '/proc/sys/net/ipv4/conf/veth1/arp_ignore',
      when: { exit: 'nonzero' },
    });
    // Commands that run programs carry no `read`.
    expect(step?.do[0]).not.toHaveProperty('read');
  });

  const invalid = (text: string) => {
    const error = thrown(() => parseRunbook(text, file));
    expect(error.exitCode).toBe(2);
    return error.message;
  };

  it('takes run or read, not both and not neither, and no stdin with read', () => {
    expect(
      invalid(
        source.replace(
          '      - read: /proc/sys/net/ipv4/{{sub}}/all/arp_ignore',
          '      - { read: /a, run: [cat, /a] }',
        ),
      ),
    ).toContain('a check runs a command ("run: [...]") or reads a file ("read: /path"), one of them');
    expect(
      invalid(
        source.replace('      - read: /proc/sys/net/ipv4/{{sub}}/all/arp_ignore', '      - { expect: { exit: 0 } }'),
      ),
    ).toContain('one of them');
    expect(invalid(source.replace('        timeout: 2\n', '        stdin: "x"\n'))).toContain('a read takes no stdin');
    expect(
      invalid(
        source.replace('        when: { exit: nonzero }', '        run: [cat, /a]\n        when: { exit: nonzero }'),
      ),
    ).toContain('one of them');
  });

  it('is an absolute path', () => {
    expect(
      invalid(source.replace('- read: /proc/sys/net/ipv4/{{sub}}/all', '- read: proc/sys/net/ipv4/{{sub}}/all')),
    ).toContain('an absolute path');
  });

  it('is refused in do, undo, capture and a condition: those are not read-only phases', () => {
    expect(
      invalid(source.replace('      - [sysctl, -w, "net.ipv4.conf.{{dev}}.arp_ignore=0"]', '      - { read: /a }')),
    ).toContain('do');
    expect(
      invalid(source.replace('      - [sysctl, -w, "net.ipv4.conf.{{dev}}.arp_ignore=1"]', '      - { read: /a }')),
    ).toContain('undo');
    const capture = invalid(source.replace('    do:\n', '    capture:\n      old: { read: /a }\n    do:\n'));
    expect(capture).toContain(
      'steps[0].capture.old: Unrecognized key: "read" ("read:" is for checks and probes only: verify, requires, diagnose; here run a command, e.g. [cat, FILE])',
    );
    expect(
      invalid(
        source.replace(
          '      - [sysctl, -w, "net.ipv4.conf.{{dev}}.arp_ignore=0"]',
          '      - { run: [sysctl, -w, x=0], if: { read: /a } }',
        ),
      ),
    ).toContain('do');
  });

  it('checks its placeholders like a command does, and refuses a rendered path with ".."', () => {
    expect(invalid(source.replace('{{sub}}/all', '{{nope}}/all'))).toContain('unknown name {{nope}}');
    const error = thrown(() => planOf(source, { sub: '../../../../etc' }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('is not an absolute path without ".."');
  });

  it('the shipped runbooks read /proc/sys instead of spawning cat in their checks and probes', () => {
    for (const name of ['single-container', 'container-internet', 'forward-filter']) {
      const runbook = loadRunbook(name);
      const plan = renderPlan(runbook.spec, resolveParams(runbook.spec, {}, runbook.file));
      const checks = plan.steps.flatMap((s) => [...s.requires, ...s.verify, ...s.diagnose]);
      expect(checks.filter((c) => c.argv[0] === 'cat' || (c.argv[0] === 'sysctl' && c.argv[1] === '-n'))).toEqual([]);
      expect(
        checks.some((c) => c.read?.startsWith('/proc/sys/net/') === true),
        name,
      ).toBe(true);
    }
  });
});

describe('preflight and sandbox reach', () => {
  it('preflight demands no program for a read (no cat), still every program that runs', () => {
    const plan = planOf(source);
    const programs = plan.steps.flatMap(commandsOf).map((argv) => argv[0]);
    expect(programs).toEqual(['sysctl', 'sysctl']);
    const resolvesNothing: Executor = { resolves: () => false, run: () => Promise.reject(new Error('not run')) };
    expect(thrown(() => requirePrograms(resolvesNothing, plan.steps.flatMap(commandsOf), 'demo')).message).toContain(
      'sysctl (Debian package procps)',
    );
    expect(
      thrown(() => requirePrograms(resolvesNothing, plan.steps.flatMap(commandsOf), 'demo')).message,
    ).not.toContain('read');
  });

  it('a read of a per-namespace path stays in the sandbox; a read of a host file is reported', () => {
    const reads = (paths: string[]) =>
      source.replace('    undo:\n', `${paths.map((p) => `      - read: ${p}\n`).join('')}    undo:\n`);
    expect(reachesOutsideSandbox(planOf(reads(['/run/netns', '/run/netns/lan', '/sys/class/net/lo/mtu'])))).toEqual({
      changing: [],
      reading: [],
    });
    expect(reachesOutsideSandbox(planOf(reads(['/etc/hostname', '/proc/sys/kernel/hostname']))).reading).toEqual([
      'arp: read /etc/hostname',
      'arp: read /proc/sys/kernel/hostname',
    ]);
  });
});

/** Records each request whole (the fakes of fake-executor.ts keep only the argv). */
class RecordingExecutor implements Executor {
  readonly requests: CommandRequest[] = [];
  constructor(private readonly reply: (request: CommandRequest) => Partial<CommandResult>) {}
  async run(request: CommandRequest): Promise<CommandResult> {
    this.requests.push(request);
    return {
      exitCode: 0,
      signal: undefined,
      stdout: '',
      stderr: '',
      durationMs: 0,
      timedOut: false,
      startError: undefined,
      ...this.reply(request),
    };
  }
}

const ofType = <T extends JournalLine['type']>(lines: readonly JournalLine[], type: T) =>
  lines.filter((l): l is Extract<JournalLine, { type: T }> => l.type === type);

describe('a read in the engine', () => {
  it('is journaled like a command: command-start with the marker, command-end with what was read, its verdict', async () => {
    const f = path.join(tempDir(), 'demo.yaml');
    writeFileSync(f, source);
    const runbook = loadRunbook(f);
    const stateDir = tempDir();
    // The host's arp_ignore on veth1 is 0 already: the step holds, nothing is done.
    const executor = new RecordingExecutor((r) => ({ stdout: r.read === undefined ? '' : '0\n' }));
    const result = await runRunbook({
      runbook,
      params: resolveParams(runbook.spec, {}, runbook.file),
      store: storeAt(stateDir),
      executor,
    });
    expect(result.status).toBe('succeeded');
    expect(executor.requests).toEqual([
      {
        argv: ['read', '/proc/sys/net/ipv4/conf/veth1/arp_ignore'],
        read: '/proc/sys/net/ipv4/conf/veth1/arp_ignore',
        timeoutMs: 2000,
        signal: undefined,
        readOnly: true,
      },
    ]);
    const lines = readJournal(journalFile(stateDir, result.runId)).lines;
    const starts = ofType(lines, 'command-start');
    expect(starts).toHaveLength(1);
    expect(starts[0]).toMatchObject({
      phase: 'check',
      argv: ['read', '/proc/sys/net/ipv4/conf/veth1/arp_ignore'],
      read: '/proc/sys/net/ipv4/conf/veth1/arp_ignore',
    });
    expect(ofType(lines, 'command-end')[0]).toMatchObject({ phase: 'check', exitCode: 0, stdout: '0\n' });
    expect(ofType(lines, 'check')[0]).toMatchObject({ phase: 'check', ok: true, evidence: '0' });
    // `runbook journal` shows it as a read, with no "$" that would claim a program ran.
    const timeline = formatTimeline(lines).join('\n');
    expect(timeline).toMatch(/ check +read \/proc\/sys\/net\/ipv4\/conf\/veth1\/arp_ignore {3}\(read in-process\)\n/);
    expect(timeline).not.toContain('$ read');
  });

  it('a read that does not hold fails the check with its evidence, as a command would', async () => {
    const f = path.join(tempDir(), 'demo.yaml');
    writeFileSync(f, source);
    const runbook = loadRunbook(f);
    const plan = renderPlan(runbook.spec, resolveParams(runbook.spec, {}, runbook.file));
    const executor = new RecordingExecutor((r) => (r.read?.includes('veth1') ? { stdout: '1\n' } : {}));
    const params = resolveParams(runbook.spec, {}, runbook.file);
    const checked = await checkRunbook({ runbook, params, plan, store: storeAt(tempDir()), executor });
    expect(checked.steps[0]).toMatchObject({
      ok: false,
      check: {
        argv: ['read', '/proc/sys/net/ipv4/conf/veth1/arp_ignore'],
        reason: 'output does not match /^0$/',
        evidence: '1',
      },
    });
  });
});
