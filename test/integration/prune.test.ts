import { describe, expect, it } from 'vitest';
import { isSameProcess } from '../../src/host/process-start.js';
import type { JournalLine } from '../../src/journal/entries.js';
import { inSandbox, journalIds, journalLines, runIndex, waitFor } from '../helpers/cli-harness.js';

/**
 * `runbook prune` with the real CLI in a throwaway sandbox host (issue 24, item 4): what it
 * removes and keeps, its --json, and that `--dry-run` only reads — it never reverts a run past
 * its deadline, while `prune` itself, which changes runs, reverts it first.
 */

const sd = (stateDir: string) => ['--state-dir', stateDir];

describe('runbook prune', () => {
  it('removes the re-applies that changed nothing beyond --keep, never the run whose changes are in effect; --json says which and why', async () => {
    await inSandbox(async (host, stateDir) => {
      for (let i = 0; i < 3; i++)
        expect((await host.runbook([...sd(stateDir), 'run', 'single-container'])).exitCode).toBe(0);
      const [made, noop1, noop2] = journalIds(stateDir) as [string, string, string];
      const dry = await host.runbook([...sd(stateDir), 'prune', '--keep', '1', '--dry-run']);
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(
        new RegExp(`^would prune 1 run\\(s\\):\\n  ${noop1}\\s+single-container\\s+succeeded$`, 'm'),
      );
      expect(dry.stdout).toContain(
        'kept: 1 with changes in effect (roll back to undo them); 1 among the newest of their runbook (--keep)',
      );
      expect(journalIds(stateDir)).toEqual([made, noop1, noop2]);

      const result = await host.runbook([...sd(stateDir), 'prune', '--keep', '1', '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        event: 'prune',
        dryRun: false,
        pruned: [{ runId: noop1, runbook: 'single-container', status: 'succeeded' }],
        kept: { 'changes-in-effect': [made], newest: [noop2] },
      });
      expect(journalIds(stateDir)).toEqual([made, noop2]);
      // What is left is what it was: the run in effect still rolls back.
      expect((await host.runbook([...sd(stateDir), 'rollback', made])).exitCode).toBe(0);
    });
  });

  it('a run past its deadline, its watchdog gone: --dry-run only reads, reverting nothing and saying so; prune reverts it first', async () => {
    await inSandbox(async (host, stateDir) => {
      const before = await host.snapshot();
      expect(
        (await host.runbook([...sd(stateDir), 'run', 'single-container', '--confirm-within', '2s'])).exitCode,
      ).toBe(0);
      const [id] = journalIds(stateDir) as [string];
      const watchdog = journalLines(stateDir, id).find(
        (l): l is Extract<JournalLine, { type: 'watchdog-started' }> => l.type === 'watchdog-started',
      )!;
      process.kill(watchdog.pid, 'SIGKILL');
      await waitFor('the watchdog to be gone', () => !isSameProcess(watchdog.pid, watchdog.startTime), 5_000);
      const deadline = journalLines(stateDir, id).find((l) => l.type === 'confirm-pending') as { deadline: string };
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, Date.parse(deadline.deadline) - Date.now()) + 200),
      );

      const dry = await host.runbook([...sd(stateDir), 'prune', '--dry-run']);
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(dry.stderr).toContain(
        `warning: run ${id} was not confirmed by ${deadline.deadline} and awaits its automatic revert`,
      );
      expect(runIndex(stateDir, id)?.status).toBe('awaiting-confirmation');

      const prune = await host.runbook([...sd(stateDir), 'prune']);
      expect(prune.exitCode, prune.stderr).toBe(0);
      expect(prune.stderr).toContain(`run ${id} was not confirmed by ${deadline.deadline}: reverting it first`);
      expect(await host.snapshot()).toEqual(before);
      // Reverted, and the newest of its runbook: kept (--keep 5 by default).
      expect(runIndex(stateDir, id)?.status).toBe('reverted');
    });
  });
});
