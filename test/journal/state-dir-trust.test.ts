import { execa } from 'execa';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../src/journal/entries.js';
import { acquireLock } from '../../src/journal/lock.js';
import { auditFile, indexFile, journalFile, lockFile, plansDir, runsDir } from '../../src/journal/paths.js';
import { currentBootId, processStartTime, startTimeFromStat } from '../../src/journal/process-identity.js';
import { parseJournal } from '../../src/journal/reader.js';
import { readRunIndex, writeRunIndex, type RunIndex } from '../../src/journal/run-index.js';
import { openRunStore } from '../../src/store/open-run-store.js';
import { FileJournal } from '../../src/journal/writer.js';
import { runStartEntry } from '../helpers/entries.js';
import { thrown } from '../helpers/thrown.js';
import { hintText } from '../helpers/advice.js';
import { engineVersion } from '../../src/version.js';

/**
 * Issues 10 and 22, in process (no kernel, no network, no root): the door's trust check
 * (openRunStore), link-free writes, failed writes as messages, lock identity. Files of other
 * owners need root to make: test/integration/other-owners.test.ts.
 * test/integration/state-dir-trust.test.ts drives the same attacks through the CLI in a sandbox host.
 */

let dir: string;
let outside: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'runbook-trust-'));
  outside = mkdtempSync(path.join(os.tmpdir(), 'runbook-outside-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

const step: JournalEntry = { type: 'step-start', step: 's', index: 0, title: 't' };

describe('openRunStore, the one door: the state dir trust check', () => {
  it('accepts a fresh dir of ours, and creates a missing one 0700 for writing only', () => {
    openRunStore(dir, 'read');
    const missing = path.join(dir, 'a', 'b');
    openRunStore(missing, 'read');
    expect(existsSync(missing)).toBe(false);
    openRunStore(missing, 'write');
    expect(lstatSync(missing).mode & 0o777).toBe(0o700);
  });

  it.each([
    [
      'mode 1777',
      (d: string) => chmodSync(d, 0o1777),
      new RegExp(
        `is writable by anyone \\(owner ${os.userInfo().username} \\(uid ${os.userInfo().uid}\\), mode 1777\\)`,
      ),
      (d: string) => `chmod go-w ${d}`,
    ],
    ['mode 0775', (d: string) => chmodSync(d, 0o775), /is writable by its group/, (d: string) => `chmod go-w ${d}`],
  ])('refuses a state dir with %s: exit 2, the path, owner, mode and the fix', (_what, spoil, reason, fix) => {
    spoil(dir);
    for (const access of ['read', 'write'] as const) {
      const error = thrown(() => openRunStore(dir, access));
      expect(error.code).toBe('untrusted-state-dir');
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain(dir);
      expect(error.message).toMatch(reason);
      expect(hintText(error)).toBe(fix(dir));
    }
  });

  it('refuses a state dir below a dir others can write to (not sticky), as StrictModes does; /tmp (sticky) is fine', () => {
    const parent = path.join(outside, 'shared');
    mkdirSync(parent);
    chmodSync(parent, 0o777);
    const stateDir = path.join(parent, 'state');
    const error = thrown(() => openRunStore(stateDir, 'write'));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(
      `${parent}, above the state dir ${stateDir}, is writable by anyone (and not sticky)`,
    );
    expect(existsSync(stateDir)).toBe(false);
    chmodSync(parent, 0o1777);
    openRunStore(stateDir, 'write');
    expect(existsSync(stateDir)).toBe(true);
  });

  it('refuses a state dir that is a symbolic link, or a file', () => {
    const link = path.join(outside, 'link');
    symlinkSync(dir, link);
    expect(thrown(() => openRunStore(link, 'read')).message).toContain(`${link} is a symbolic link`);
    const file = path.join(outside, 'file');
    writeFileSync(file, '');
    const error = thrown(() => openRunStore(file, 'write'));
    expect([error.exitCode, error.message]).toEqual([2, expect.stringContaining(`${file} is not a directory`)]);
  });

  it.each([
    ['runs/ a link', () => symlinkSync(outside, runsDir(dir)), 'runs'],
    [
      'sandboxes/NAME a link',
      () => (mkdirSync(path.join(dir, 'sandboxes')), symlinkSync(outside, path.join(dir, 'sandboxes', 'lab'))),
      'sandboxes/lab',
    ],
    ['the lock a link', () => symlinkSync(path.join(outside, 'x'), lockFile(dir)), 'lock'],
    ['audit.ndjson a link', () => symlinkSync(path.join(outside, 'x'), auditFile(dir)), 'audit.ndjson'],
    [
      'a journal group-writable',
      () => (
        mkdirSync(runsDir(dir)),
        writeFileSync(journalFile(dir, 'r'), '', { mode: 0o664 }),
        chmodSync(journalFile(dir, 'r'), 0o664)
      ),
      'runs/r.ndjson',
    ],
    ['plans/ group-writable', () => (mkdirSync(plansDir(dir)), chmodSync(plansDir(dir), 0o770)), 'plans'],
  ])('refuses an entry: %s', (_what, plant, entry) => {
    plant();
    const error = thrown(() => openRunStore(dir, 'read'));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(`${entry} in the state dir ${path.join(dir, entry)}`);
  });
});

describe('writes never follow a link, and create private files', () => {
  it('a journal, an index and the audit file are 0600 in 0700 dirs', () => {
    const journal = new FileJournal(journalFile(dir, 'r'));
    journal.append(step);
    journal.close();
    writeRunIndex(dir, { id: 'r', lastSeq: 1 } as RunIndex);
    expect(lstatSync(runsDir(dir)).mode & 0o777).toBe(0o700);
    expect(lstatSync(journalFile(dir, 'r')).mode & 0o777).toBe(0o600);
    expect(lstatSync(indexFile(dir, 'r')).mode & 0o777).toBe(0o600);
  });

  it('a journal planted as a link is refused, its target untouched', () => {
    const target = path.join(outside, 'target');
    writeFileSync(target, 'precious\n');
    mkdirSync(runsDir(dir));
    symlinkSync(target, journalFile(dir, 'r'));
    const error = thrown(() => new FileJournal(journalFile(dir, 'r')));
    expect(error.code).toBe('io-error');
    expect(error.message).toContain('symbolic link');
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
  });

  it("an index's temporary planted as a link is not written through", () => {
    const target = path.join(outside, 'target');
    writeFileSync(target, 'precious\n');
    mkdirSync(runsDir(dir));
    symlinkSync(target, `${indexFile(dir, 'r')}.tmp-${process.pid}`);
    writeRunIndex(dir, { id: 'r', lastSeq: 1 } as RunIndex);
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    expect(JSON.parse(readFileSync(indexFile(dir, 'r'), 'utf8'))).toMatchObject({ id: 'r' });
  });

  it("the lock's temporary (lock.<pid>) and the lock planted as links are not written through", () => {
    const target = path.join(outside, 'target');
    writeFileSync(target, 'precious\n');
    symlinkSync(target, `${lockFile(dir)}.${process.pid}`);
    symlinkSync(target, lockFile(dir));
    const lock = acquireLock(dir, 'run demo');
    expect(lock.takeoverNote).toBe(`took over an unreadable lock at ${lockFile(dir)}`);
    expect(lstatSync(lockFile(dir)).isFile()).toBe(true);
    lock.release();
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
  });
});

describe('a failed journal write is a message, and the journal stays whole', () => {
  it('ENOSPC (/dev/full): exit 1 naming the file, "no space left on device" and how to continue; later appends refused', () => {
    const journal = new FileJournal('/dev/full');
    const error = thrown(() => journal.append(step));
    expect(error.code).toBe('io-error');
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe('writing /dev/full failed: no space left on device (ENOSPC)');
    expect(hintText(error)).toContain('free space');
    expect(hintText(error)).toContain('runbook resume');
    expect(hintText(error)).toContain('runbook rollback');
    expect(journal.lastSeq).toBe(0);
    expect(thrown(() => journal.append(step))).toBe(error);
    journal.close();
  });
});

describe('journal format version', () => {
  const start = (format: number | undefined) =>
    JSON.stringify({
      level: 30,
      time: 't',
      seq: 1,
      prev: '0'.repeat(64),
      ...runStartEntry({ engineVersion: '9.9.9' }),
      journalFormat: format,
      msg: 'run-start',
    });

  it('a run-start of an unknown format is refused with exit 2 naming both versions; formats 1 (or no field: older journals) and 2 read', () => {
    const error = thrown(() => parseJournal(`${start(3)}\n`, 'j.ndjson'));
    expect(error.code).toBe('journal-version');
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(
      `j.ndjson is in journal format 3 (written by runbook 9.9.9), which this runbook ${engineVersion} (journal format 2, reads 1 and 2) does not know; nothing was read or changed`,
    );
    expect(hintText(error)).toContain('runbook 9.9.9');
    expect(parseJournal(`${start(2)}\n`, 'j').lines).toHaveLength(1);
    expect(parseJournal(`${start(1)}\n`, 'j').lines).toHaveLength(1);
    expect(parseJournal(`${start(undefined)}\n`, 'j').lines).toHaveLength(1);
  });

  it('the writer stamps it into the run-start entry', () => {
    const journal = new FileJournal(journalFile(dir, 'r'));
    journal.append(runStartEntry());
    journal.close();
    expect(JSON.parse(readFileSync(journalFile(dir, 'r'), 'utf8'))).toMatchObject({
      type: 'run-start',
      journalFormat: 2,
    });
  });
});

describe('lock identity: pid, start time, boot id', () => {
  it('reads /proc/PID/stat field 22 counting from after the last ")" (a comm may hold spaces and parentheses)', () => {
    const rest = Array.from({ length: 50 }, (_, i) => String(i + 3)).join(' ');
    expect(startTimeFromStat(`42 (a) b (c) ${rest}`)).toBe('22');
    expect(startTimeFromStat(`42 (x y) ${rest}`)).toBe('22');
    expect(processStartTime(process.pid)).toMatch(/^\d+$/);
    expect(currentBootId()).toMatch(/^[0-9a-f-]{36}$/);
  });

  const lockOf = (holder: Record<string, unknown>) =>
    writeFileSync(lockFile(dir), JSON.stringify({ command: 'run x', since: '2026-01-01T00:00:00.000Z', ...holder }));

  it('the lock records pid, start time and boot id', () => {
    const lock = acquireLock(dir, 'run demo');
    expect(JSON.parse(readFileSync(lockFile(dir), 'utf8'))).toMatchObject({
      pid: process.pid,
      startTime: processStartTime(process.pid),
      bootId: currentBootId(),
    });
    lock.release();
  });

  it('a lock whose pid is now another live process (pid 1) is stale: taken over, with a note', () => {
    lockOf({ pid: 1, startTime: '999999999999', bootId: currentBootId() });
    const lock = acquireLock(dir, 'run demo');
    expect(lock.takeoverNote).toMatch(
      /^took over the lock left by pid 1 \(run x, since 2026-01-01T00:00:00.000Z\), whose pid now belongs to another process \(started at tick \d+, not 999999999999\)$/,
    );
    lock.release();
  });

  it('a lock from an earlier boot is stale, even if its pid runs now', () => {
    lockOf({
      pid: process.pid,
      startTime: processStartTime(process.pid),
      bootId: '00000000-0000-0000-0000-000000000000',
    });
    const lock = acquireLock(dir, 'run demo');
    expect(lock.takeoverNote).toContain('which is from an earlier boot');
    lock.release();
  });

  it('a run "running" under a pid now another process\'s (pid 1) is read as interrupted', () => {
    const journal = new FileJournal(journalFile(dir, 'r'));
    journal.append(runStartEntry());
    journal.close();
    const running = { id: 'r', status: 'running', host: {}, lastSeq: 1, pid: 1 } as RunIndex;
    writeRunIndex(dir, { ...running, pidStartTime: '999999999999', bootId: currentBootId() });
    expect(readRunIndex(dir, 'r')?.status).toBe('interrupted');
    writeRunIndex(dir, { ...running, pidStartTime: processStartTime(1), bootId: currentBootId() });
    expect(readRunIndex(dir, 'r')?.status).toBe('running');
  });

  it('a lock held by a live process with its start time still refuses, exit 3', async () => {
    const holder = execa('sleep', ['30']);
    try {
      const pid = holder.pid!;
      await new Promise((resolve) => setTimeout(resolve, 50));
      lockOf({ pid, startTime: processStartTime(pid), bootId: currentBootId() });
      const error = thrown(() => acquireLock(dir, 'run demo'));
      expect([error.code, error.exitCode]).toEqual(['locked', 3]);
    } finally {
      holder.kill('SIGKILL');
      await holder.catch(() => undefined);
    }
  });
});
