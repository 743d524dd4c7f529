import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inSandbox } from '../helpers/cli-harness.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 22, item 9: every text that came from the kernel, a file or another user is escaped
 * before it reaches a terminal, as --set values are. The case of the issue: a container's root
 * sets an address label holding escape sequences (clear the screen, move the cursor home);
 * runbook's checks read it from the kernel, its journal keeps it, and `journal`, `check`,
 * `run` and `runs` print it — shown as \u001b, never as the byte a terminal would act on.
 */

// eslint-disable-next-line no-control-regex
const rawControl = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** One JSON document, or one per line (the streaming --json of run and check). */
function parseJsonOutput(stdout: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch {
    return stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as unknown);
  }
}

/**
 * A runbook that reads the container's addresses: its check fails (it looks for an address
 * nobody set) and its probe names the cause with the line that shows it — the label's line.
 */
function inspector(dir: string): string {
  const file = path.join(dir, 'inspect.yaml');
  writeFileSync(
    file,
    `name: inspect
description: reads container1's addresses
steps:
  - id: inspect
    title: Look for 172.16.0.99 in container1
    why: to read what the kernel says about the container's addresses
    verify:
      - run: [ip, -n, container1, -o, addr, show, dev, ceth1]
        expect: { output_contains: 172.16.0.99/24 }
    diagnose:
      - run: [ip, -n, container1, -o, addr, show, dev, ceth1]
        when: { output_matches: "172\\\\.16\\\\.0\\\\.9/24" }
        cause: another address is there
`,
  );
  return file;
}

describe('text from the kernel reaches the terminal escaped', () => {
  it('an address label with an escape sequence, set inside the container: printed as \\u001b by run, check, journal and runs', async () => {
    const dir = tempDir();
    try {
      await inSandbox(async (host, stateDir) => {
        const sd = ['--state-dir', stateDir];
        const first = await host.runbook(['run', 'single-container', '--set', 'ping_deadline=1', ...sd]);
        expect(first.exitCode, first.stderr).toBe(0);
        // What the container's root does: an address whose label clears the screen and homes the cursor.
        const label = 'ceth1:\u001b[2J\u001b[H';
        const added = await host.exec(
          ['ip', '-n', 'container1', 'addr', 'add', '172.16.0.9/24', 'dev', 'ceth1', 'label', label],
          {},
        );
        expect(added.exitCode, added.stderr).toBe(0);

        const file = inspector(dir);
        const outputs: string[] = [];
        for (const args of [
          ['run', file],
          ['check', file],
          ['journal', 'latest'],
          ['runs'],
          ['check', file, '--json'],
          ['journal', 'latest', '--json'],
        ]) {
          const result = await host.runbook([...args, ...sd]);
          const text = result.stdout + result.stderr;
          expect(text, args.join(' ')).not.toMatch(rawControl);
          outputs.push(text);
          if (args.includes('--json')) expect(() => parseJsonOutput(result.stdout), args.join(' ')).not.toThrow();
        }
        // The label was read and shown, escaped, in the diagnosis of run, check and journal.
        for (const output of [outputs[0], outputs[1], outputs[2]])
          expect(output).toContain('ceth1:\\u001b[2J\\u001b[H');
        const rollback = await host.runbook(['rollback', ...sd]);
        expect(rollback.stdout + rollback.stderr).not.toMatch(rawControl);
      });
    } finally {
      removeDir(dir);
    }
  });
});
