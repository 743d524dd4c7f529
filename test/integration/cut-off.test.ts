import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inSandbox, onlyRunId, journalLines } from '../helpers/cli-harness.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import type { SandboxHost } from '../helpers/sandbox-host.js';

/**
 * Issue 11, items 3 and 4: a `do` cut off by its timeout or by an interrupt may have changed the
 * host, so rollback considers it (its undo runs when its effect is there); and a timeout or an
 * interrupt stops the whole command, grandchildren included, at once. Every run happens inside
 * a SandboxHost; the fixture runbooks only make network namespaces there.
 */

/** A runbook with one step whose `do` is `script` run by sh, checked by the namespace `ns`. */
function fixture(dir: string, name: string, script: string, timeout: number, ns: string, undoNs = ns): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `name: ${name}
description: a do that is cut off
steps:
  - id: make
    title: Make ${ns}
    why: to be cut off
    do:
      - run: [sh, -c, "${script}"]
        timeout: ${timeout}
    verify:
      - run: [ip, -j, netns, list]
        expect: { json: { name: ${ns} } }
    undo:
      - [ip, netns, del, ${undoNs}]
`,
  );
  return file;
}

async function namespaces(host: SandboxHost): Promise<string[]> {
  const list = (await host.ipJson(['netns', 'list'])) as Array<{ name: string }>;
  return list.map((n) => n.name).sort();
}

async function waitFor(what: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a cut-off do is not forgotten', () => {
  it('a do that timed out after it took effect is undone by rollback', async () => {
    const dir = tempDir();
    try {
      const file = fixture(dir, 'timeout-after-effect', 'ip netns add slow1 && exec sleep 30.4177', 0.5, 'slow1');
      await inSandbox(async (host, stateDir) => {
        const run = await host.runbook(['run', file, '--state-dir', stateDir]);
        expect(await namespaces(host)).toContain('slow1');
        expect(run.stdout).toMatch(/changed +make/);
        const runId = onlyRunId(stateDir);
        const end = journalLines(stateDir, runId).find((l) => l.type === 'command-end' && l.phase === 'do');
        expect(end).toMatchObject({ timedOut: true });

        const rollback = await host.runbook(['rollback', '--state-dir', stateDir]);
        expect(rollback.exitCode, rollback.stdout + rollback.stderr).toBe(0);
        expect(await namespaces(host)).not.toContain('slow1');
      });
    } finally {
      removeDir(dir);
    }
  });

  it('a do interrupted by SIGINT after it took effect: resume says ok, rollback still undoes it', async () => {
    const dir = tempDir();
    try {
      const file = fixture(dir, 'interrupted', 'ip netns add slow2 && exec sleep 30.4177', 20, 'slow2');
      await inSandbox(async (host, stateDir) => {
        const started = host.startRunbook(['run', file, '--state-dir', stateDir]);
        await waitFor(async () => (await namespaces(host)).includes('slow2'), 10_000);
        const interruptedAt = Date.now();
        process.kill(started.pid, 'SIGINT');
        const run = await started.done;
        // The interrupt stops the command at once: not after its 20 s timeout.
        expect(Date.now() - interruptedAt).toBeLessThan(5_000);
        expect(run.exitCode, run.stdout + run.stderr).toBe(130);

        const resume = await host.runbook(['resume', '--state-dir', stateDir]);
        expect(resume.exitCode, resume.stdout + resume.stderr).toBe(0);
        expect(resume.stdout).toMatch(/ok +make/);

        const rollback = await host.runbook(['rollback', '--state-dir', stateDir]);
        expect(rollback.exitCode, rollback.stdout + rollback.stderr).toBe(0);
        expect(await namespaces(host)).not.toContain('slow2');
      });
    } finally {
      removeDir(dir);
    }
  });

  it('a cut-off do whose effect is not there: its undo does not run, so a same-named thing of someone else survives', async () => {
    const dir = tempDir();
    try {
      // The check looks for "ghost"; the undo would delete "keep", which existed before the run.
      const file = fixture(dir, 'cut-off-no-effect', 'exec sleep 30.4177', 0.5, 'ghost', 'keep');
      await inSandbox(async (host, stateDir) => {
        await host.exec(['ip', 'netns', 'add', 'keep']);
        const run = await host.runbook(['run', file, '--state-dir', stateDir]);
        expect(run.exitCode).toBe(1);
        const rollback = await host.runbook(['rollback', '--state-dir', stateDir]);
        expect(rollback.exitCode, rollback.stdout + rollback.stderr).toBe(0);
        expect(rollback.stdout).toContain('not there');
        expect(await namespaces(host)).toContain('keep');
      });
    } finally {
      removeDir(dir);
    }
  });
});

describe('no command can stretch a timeout or outlive an interrupt', () => {
  it('a 1 s timeout takes about 1 s even when a grandchild keeps stdout open', async () => {
    const dir = tempDir();
    try {
      const file = fixture(dir, 'grandchild', 'sleep 30.4177 & sleep 30.4177', 1, 'never');
      await inSandbox(async (host, stateDir) => {
        const started = Date.now();
        const run = await host.runbook(['run', file, '--state-dir', stateDir]);
        const took = Date.now() - started;
        expect(run.exitCode).toBe(1);
        expect(took).toBeLessThan(5_000);
        const end = journalLines(stateDir, onlyRunId(stateDir)).find(
          (l) => l.type === 'command-end' && l.phase === 'do',
        );
        expect(end).toMatchObject({ timedOut: true });
        expect((end as { durationMs: number }).durationMs).toBeLessThan(2_500);
        // Nothing of the command is left running in the sandbox.
        const left = await host.exec(['pgrep', '-f', 'sleep 30.4177']);
        expect(left.stdout.trim()).toBe('');
      });
    } finally {
      removeDir(dir);
    }
  });

  it('SIGTERM to runbook stops the running command at once, not at its timeout', async () => {
    const dir = tempDir();
    try {
      const file = fixture(dir, 'long', 'sleep 30.4177 & sleep 30.4177', 30, 'never');
      await inSandbox(async (host, stateDir) => {
        const started = host.startRunbook(['run', file, '--state-dir', stateDir]);
        await waitFor(async () => (await host.exec(['pgrep', '-f', 'sleep 30.4177'])).stdout.trim() !== '', 10_000);
        const at = Date.now();
        process.kill(started.pid, 'SIGTERM');
        const run = await started.done;
        expect(Date.now() - at).toBeLessThan(5_000);
        expect(run.exitCode).toBe(130);
        const left = await host.exec(['pgrep', '-f', 'sleep 30.4177']);
        expect(left.stdout.trim()).toBe('');
      });
    } finally {
      removeDir(dir);
    }
  });
});
