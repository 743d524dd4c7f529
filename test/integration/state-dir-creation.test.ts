import { execa } from 'execa';
import { chmodSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type * as SafeFs from '../../src/journal/safe-fs.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { thrown } from '../helpers/thrown.js';

/**
 * The door creating a missing state dir (src/store/trust-state-dir.ts, mkdirPrivate): found by
 * review. What is made must be checked once it is there, and making it must end. Chowns, so
 * root (this tier); no kernel, no network.
 */

/** Another user, as an attacker in a sticky dir like /tmp would be. */
const attacker = 4242;

/** The race won: the dirs appear, the attacker's, between the check and runbook's mkdir. */
const raceWon = vi.hoisted(() => ({ under: undefined as string | undefined }));
vi.mock('../../src/journal/safe-fs.js', async (importOriginal) => {
  const real = await importOriginal<typeof SafeFs>();
  const { chownSync, mkdirSync: mkdir } = await import('node:fs');
  return {
    ...real,
    mkdirPrivate: (dir: string) => {
      if (raceWon.under !== undefined && dir.startsWith(raceWon.under)) {
        const first = path.join(raceWon.under, path.relative(raceWon.under, dir).split(path.sep)[0] as string);
        mkdir(first, { mode: 0o777 });
        chownSync(first, attacker, attacker);
      }
      real.mkdirPrivate(dir);
    },
  };
});

const { openRunStore } = await import('../../src/store/open-run-store.js');

let sticky: string;
beforeEach(() => {
  sticky = tempDir('runbook-sticky-');
  chmodSync(sticky, 0o1777); // like /tmp
});
afterEach(() => {
  raceWon.under = undefined;
  removeDir(sticky);
});

describe('a state dir the door creates', () => {
  it('is refused when another user made a dir on its way between the check and the mkdir (a sticky /tmp race)', () => {
    raceWon.under = sticky;
    const stateDir = path.join(sticky, 'cni', 'rbnet');
    const error = thrown(() => openRunStore(stateDir, 'write'));
    expect(error).toMatchObject({ code: 'untrusted-state-dir' });
    expect(error.message).toContain(`${path.join(sticky, 'cni')}, above the state dir`);
    expect(error.message).toContain('uid 4242');
  });

  it('is refused when another user made the state dir itself meanwhile', () => {
    raceWon.under = sticky;
    const error = thrown(() => openRunStore(path.join(sticky, 'rbnet'), 'write'));
    expect(error).toMatchObject({ code: 'untrusted-state-dir' });
    expect(error.message).toContain('is owned by uid 4242');
  });

  it('is accepted, 0700, when nobody raced', () => {
    const stateDir = path.join(sticky, 'cni', 'rbnet');
    openRunStore(stateDir, 'write');
    expect(lstatSync(stateDir).mode & 0o777).toBe(0o700);
  });
});

describe('making a state dir ends', () => {
  it('under /proc/sys (mkdir fails with ENOENT below an existing dir), with a message, not an endless loop', async () => {
    // Node's recursive mkdir loops forever there, deaf to SIGTERM: a CNI ADD hung until SIGKILL.
    const safeFs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/journal/safe-fs.js');
    const script = `import(${JSON.stringify(safeFs)}).then((m) => { try { m.mkdirPrivate('/proc/sys/runbook-review/x'); } catch (e) { console.log(e.message); } })`;
    const result = await execa('node', ['-e', script], { timeout: 30_000, reject: false });
    expect(result.timedOut).toBe(false);
    expect(result.stdout).toContain('/proc/sys/runbook-review/x');
  });
});
