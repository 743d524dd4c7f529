import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JournalLine } from '../../src/journal/entries.js';
import { changesLeft, inSandbox, journalIds, journalLines, journalProblem } from '../helpers/cli-harness.js';
import type { SandboxHost } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 28, item 1, under the crash sweep's rule: a run is killed with SIGKILL after every
 * journal entry from the one before its `export` entry to the first `do` command of the step that
 * uses the value. After each kill the value on the host is changed by hand (so that reading it
 * again would give another value), then:
 *
 *   resume: the step that uses the value gets the latest value the journal holds for it: the
 *     one read before the kill once the exporting step had ended, never read again; read again
 *     (and journaled) only when the exporting step had not ended and so runs again;
 *   rollback (after the same kill, in another sandbox host): the sandbox as it was, nothing
 *     left to undo.
 */

const source = `name: exported
description: a MAC read in one step, used by the next
steps:
  - id: pair
    title: Create x0/x1 and read the MAC of x0
    why: the value to hand on
    do:
      - [ip, link, add, name, x0, type, veth, peer, name, x1]
      - [ip, addr, add, 10.9.0.1/24, dev, x0]
    verify:
      - run: [ip, -j, addr, show, dev, x0]
        expect: { json: { addr_info: [{ local: 10.9.0.1 }] } }
    undo:
      - [ip, link, del, dev, x0]
    export:
      mac: { run: [ip, -j, link, show, dev, x0], json: 0.address }
  - id: neighbour
    title: 10.9.0.2 is at the MAC read, for good
    why: the step that uses it
    do:
      - [ip, neigh, replace, 10.9.0.2, lladdr, "{{mac}}", dev, x0, nud, permanent]
    verify:
      - run: [ip, -j, neigh, show, 10.9.0.2, dev, x0]
        expect: { json: { lladdr: "{{mac}}", state: [PERMANENT] } }
    undo:
      - [ip, neigh, del, 10.9.0.2, dev, x0]
  - id: up
    title: Bring x0 up
    why: a step after it
    do: [[ip, link, set, dev, x0, up]]
    verify:
      - run: [ip, -j, link, show, dev, x0]
        expect: { json: { flags: [UP] } }
    undo: [[ip, link, set, dev, x0, down]]
`;

let dir: string;
let file: string;
let points: number[];
let labels: string[];

beforeAll(async () => {
  dir = tempDir('runbook-exported-crash-');
  file = path.join(dir, 'exported.yaml');
  writeFileSync(file, source);
  // The reference run: where the export entry and the first `do` of the step that uses it are.
  await inSandbox(async (host, stateDir) => {
    const run = await host.runbook(['--state-dir', stateDir, 'run', file]);
    expect(run.exitCode, run.stderr).toBe(0);
    const lines = journalLines(stateDir, journalIds(stateDir)[0] as string);
    const exportAt = lines.findIndex((l) => l.type === 'export');
    const useAt = lines.findIndex((l) => l.type === 'command-start' && l.step === 'neighbour' && l.phase === 'do');
    points = [];
    labels = [];
    for (let n = exportAt; n <= useAt + 1; n++) {
      points.push(n); // entry:n kills right after the n-th entry: lines[n - 1]
      labels.push(describe1(lines[n - 1] as JournalLine));
    }
  });
});
afterAll(() => removeDir(dir));

function describe1(line: JournalLine): string {
  return 'step' in line ? `${line.type} ${line.step}${'phase' in line ? ` ${line.phase}` : ''}` : line.type;
}

async function killedRun(host: SandboxHost, stateDir: string, n: number): Promise<void> {
  const run = await host.runbook(['--state-dir', stateDir, 'run', file], { env: { RUNBOOK_FAULT_KILL: `entry:${n}` } });
  expect(run.signal, run.stderr).toBe('SIGKILL');
}

/** Changes the MAC of x0 (when it is there): a value read again now would differ. */
async function changeTheValue(host: SandboxHost): Promise<void> {
  await host.exec(['ip', 'link', 'set', 'dev', 'x0', 'address', '02:00:00:00:99:99']);
}

describe('a run killed between the step that exports a value and the step that uses it', () => {
  it('has crash points to sweep (the reference run found the export and its use)', () => {
    expect(points.length).toBeGreaterThanOrEqual(5);
  });

  it('resume gives the step that uses it the latest value journaled, read again only by a step that had not ended', async () => {
    for (const [i, n] of points.entries()) {
      await inSandbox(async (host, stateDir) => {
        await killedRun(host, stateDir, n);
        const id = journalIds(stateDir)[0] as string;
        const atKill = journalLines(stateDir, id);
        const ended = atKill.some((l) => l.type === 'step-end' && l.step === 'pair');
        const before = atKill.filter((l) => l.type === 'export').map((l) => (l as { value: string }).value);
        await changeTheValue(host);

        const resume = await host.runbook(['--state-dir', stateDir, 'resume']);
        expect(resume.exitCode, `entry:${n} [${labels[i]}]: ${resume.stderr}`).toBe(0);
        const lines = journalLines(stateDir, id);
        const exported = lines.filter((l) => l.type === 'export').map((l) => (l as { value: string }).value);
        if (ended) expect(exported, `entry:${n} [${labels[i]}]: read again after its step ended`).toEqual(before);
        else expect(exported.at(-1), `entry:${n} [${labels[i]}]: not read again`).toBe('02:00:00:00:99:99');
        const used = (await host.ipJson(['neigh', 'show', '10.9.0.2', 'dev', 'x0'])) as Array<{ lladdr: string }>;
        expect(used[0]?.lladdr, `entry:${n} [${labels[i]}]`).toBe(exported.at(-1));
        expect(journalProblem(stateDir, id)).toBeUndefined();
      });
    }
  }, 300_000);

  it('rollback restores the sandbox as it was, whatever the value became', async () => {
    for (const [i, n] of points.entries()) {
      await inSandbox(async (host, stateDir) => {
        const before = await host.snapshot();
        const neighboursBefore = await host.exec(['ip', 'neigh', 'show', 'nud', 'permanent']);
        await killedRun(host, stateDir, n);
        await changeTheValue(host);
        const rollback = await host.runbook(['--state-dir', stateDir, 'rollback']);
        expect(rollback.exitCode, `entry:${n} [${labels[i]}]: ${rollback.stderr}`).toBe(0);
        expect(await host.snapshot()).toEqual(before);
        expect((await host.exec(['ip', 'neigh', 'show', 'nud', 'permanent'])).stdout).toBe(neighboursBefore.stdout);
        expect(changesLeft(stateDir, journalIds(stateDir)[0] as string)).toEqual([]);
      });
    }
  }, 300_000);
});
