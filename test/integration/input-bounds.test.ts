import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalIds } from '../helpers/cli-harness.js';
import { SandboxHost } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { aliasBombRunbook } from '../helpers/runbooks.js';

/**
 * Issue 22, items 7 and 8, run as described, with the built CLI in a sandbox host: input too
 * large, or bytes that are not text, are refused with exit 2 before anything runs, naming the
 * limit or the place; no journal is written and the host is unchanged. (How fast: measured,
 * not asserted — see the report of issue 22; each refusal here comes before any expansion.)
 */

let host: SandboxHost;
let dir: string;
beforeAll(async () => {
  host = await SandboxHost.create();
  dir = tempDir('runbook-bounds-');
});
afterAll(() => {
  host?.dispose();
  removeDir(dir);
});

function file(name: string, content: string | Buffer): string {
  const at = path.join(dir, name);
  writeFileSync(at, content);
  return at;
}

const makeNamespace = (id: string, argv: string) => `  - id: ${id}
    title: Make a namespace
    why: test
    do:
      - ${argv}
    verify:
      - run: [ip, -j, netns, list]
        expect: { json: { name: made } }
    undo:
      - [ip, netns, del, made]
`;

/** Runs `runbook run` with these arguments in a fresh state dir: exit 2, no journal, host unchanged. */
async function refused(args: readonly string[]): Promise<string> {
  const stateDir = tempDir();
  try {
    const before = await host.snapshot();
    const result = await host.runbook(['run', ...args, '--state-dir', stateDir]);
    expect(result.exitCode, result.stdout + result.stderr).toBe(2);
    expect(result.stderr).not.toContain('internal error');
    expect(journalIds(stateDir)).toEqual([]);
    expect(await host.snapshot()).toEqual(before);
    return result.stderr;
  } finally {
    removeDir(stateDir);
  }
}

describe('input too large or not text: exit 2 before anything runs', () => {
  it('--set n=20000000 for a loop bound: the loop and the limit are named, with how to raise it', async () => {
    const loop = file(
      'loop.yaml',
      `name: loop
description: one namespace per n
parameters:
  n: { type: integer, default: 2 }
steps:
  - foreach: { var: i, from: 1, to: "{{n}}" }
    steps:
      - id: ns
        title: Make ns{{i}}
        why: test
        do: [[ip, netns, add, "ns{{i}}"]]
        verify: [{ run: [ip, -j, netns, list], expect: { json: { name: "ns{{i}}" } } }]
        undo: [[ip, netns, del, "ns{{i}}"]]
`,
    );
    const stderr = await refused([loop, '--set', 'n=20000000']);
    expect(stderr).toContain(
      'a loop of 20,000,000 iterations, more than the 10,000 steps a plan may have (in foreach i from 1 to 20000000)',
    );
    expect(stderr).toContain('RUNBOOK_MAX_STEPS');
  });

  it('a 430 KB file whose YAML aliases expand to millions of probes: refused by its size', async () => {
    const text = aliasBombRunbook(5000);
    expect(text.length).toBeGreaterThan(430_000);
    expect(await refused([file('bomb430.yaml', text)])).toMatch(
      /too large for a runbook \(\d+ bytes; at most 262144\)/,
    );
  });

  it('the same bomb within the size limit: refused by the count of what its aliases expand to', async () => {
    const text = aliasBombRunbook(2000);
    expect(await refused([file('bomb200.yaml', text)])).toContain(
      'too large once its YAML aliases are expanded (more than 500,000 values',
    );
  });

  it('a "\\0" in an argv: exit 2 with the field, line and column; nothing journaled as started', async () => {
    const nul = file(
      'nul.yaml',
      `name: nul\ndescription: d\nsteps:\n${makeNamespace('make', '[ip, netns, add, "ma\\0de"]')}`,
    );
    expect(await refused([nul])).toContain('steps[0].do[0][3] holds a NUL character');
  });

  it('invalid UTF-8 in an interface name: exit 2 with line and column, not a U+FFFD in the kernel', async () => {
    const [before, after] =
      `name: latin\ndescription: d\nsteps:\n${makeNamespace('make', '[ip, netns, add, "m@de"]')}`.split('@');
    const bytes = Buffer.concat([Buffer.from(before ?? ''), Buffer.from([0xe9]), Buffer.from(after ?? '')]); // é in Latin-1
    const stderr = await refused([file('latin1.yaml', bytes)]);
    expect(stderr).toMatch(/latin1\.yaml: not UTF-8 text: the byte 0xe9 at line 8, column \d+/);
  });

  it('a value captured from the host holding a NUL: the step fails (exit 1), the run is failed, never stuck on an internal error', async () => {
    const captured = file(
      'captured.yaml',
      `name: captured
description: d
steps:
  - id: make
    title: Make a namespace named after what printf prints
    why: test
    capture:
      name: [printf, 'ma\\000de']
    do: [[ip, netns, add, "{{name}}"]]
    verify: [{ run: [ip, -j, netns, list], expect: { json: { name: made } } }]
    undo: [[ip, netns, del, "{{name}}"]]
`,
    );
    const stateDir = tempDir();
    try {
      const before = await host.snapshot();
      const result = await host.runbook(['run', captured, '--state-dir', stateDir]);
      expect(result.exitCode, result.stdout + result.stderr).toBe(1);
      expect(result.stdout + result.stderr).not.toContain('internal error');
      const runs = await host.runbook(['runs', '--json', '--state-dir', stateDir]);
      expect(JSON.parse(runs.stdout)).toMatchObject([{ status: 'failed' }]);
      const journal = await host.runbook(['journal', 'latest', '--state-dir', stateDir]);
      expect(journal.stdout).toContain('nothing captured for name: the value holds a NUL character');
      expect(await host.snapshot()).toEqual(before);
    } finally {
      removeDir(stateDir);
    }
  });
});
