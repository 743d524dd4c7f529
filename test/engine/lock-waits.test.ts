import { describe, expect, it } from 'vitest';
import { RunbookError } from '../../src/errors.js';
import { withStateLockWaiting } from '../../src/engine/confirm-within/revert-due.js';
import type { Executor } from '../../src/exec/types.js';
import { FakeExecutor } from '../helpers/fake-executor.js';
import { storeAt } from '../helpers/store.js';
import { tempDirsRemovedAfterAll } from '../helpers/temp-dir.js';

/**
 * Issue 22, item 4: every wait for a lock is bounded and says what it waits for. A host whose
 * lock is held by another process: the waiter says so once per holder, and gives up at its
 * bound with the holder's name (exit 3); an unbounded wait is refused outright.
 */

const tempDir = tempDirsRemovedAfterAll('runbook-waits-');

/** An executor whose host lock is held by `holders` in turn (one attempt each), then free. */
function heldBy(holders: readonly string[]): Executor & { attempts: number } {
  const fake = new FakeExecutor() as FakeExecutor & Executor & { attempts: number };
  fake.attempts = 0;
  fake.lockHost = async () => {
    const holder = holders[fake.attempts++];
    if (holder !== undefined)
      throw new RunbookError('locked', `another runbook process is changing this host: ${holder}`);
    return { release: () => undefined };
  };
  return fake;
}

describe('waiting for the locks', () => {
  it('says what it waits for, once per holder, and goes on once the lock is free', async () => {
    const notes: string[] = [];
    const executor = heldBy(['pid 10', 'pid 10', 'pid 11']);
    const result = await withStateLockWaiting(
      storeAt(tempDir()),
      'automatic revert',
      { executor, lockWaitMs: 10_000, onNote: (n) => notes.push(n) },
      async () => 'done',
    );
    expect(result).toBe('done');
    expect(executor.attempts).toBe(4);
    expect(notes).toHaveLength(2);
    expect(notes[0]).toMatch(
      /^waiting \(\d+ s at most\) for the lock automatic revert needs: another runbook process is changing this host: pid 10$/,
    );
    expect(notes[1]).toContain('pid 11');
  });

  it('gives up at its bound with exit 3, naming the holder', async () => {
    const executor = heldBy(Array(1000).fill('pid 12'));
    const error = await withStateLockWaiting(
      storeAt(tempDir()),
      'automatic revert',
      { executor, lockWaitMs: 300 },
      async () => 'done',
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunbookError);
    expect(error).toMatchObject({ code: 'locked', exitCode: 3, message: expect.stringContaining('pid 12') });
  });

  it('an unbounded wait is refused: nothing waits forever', async () => {
    const executor = heldBy([]);
    await expect(
      withStateLockWaiting(
        storeAt(tempDir()),
        'x',
        { executor, lockWaitMs: Number.POSITIVE_INFINITY },
        async () => 'done',
      ),
    ).rejects.toThrow('a lock wait must be bounded');
  });
});
