import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/cli/duration.js';
import { confirmationOf, isExpired, revertReason } from '../../src/engine/confirm-within/confirmation.js';
import type { JournalEntry, JournalLine } from '../../src/journal/entries.js';
import { pendingDir, pendingFile } from '../../src/journal/paths.js';
import {
  listPendingMarkers,
  removePendingMarker,
  writePendingMarker,
} from '../../src/journal/pending-confirmations.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { thrown } from '../helpers/thrown.js';

/**
 * `run --confirm-within` without a kernel (issue 15): where a run stands according to its
 * journal, the durations the flag takes, and the marker files that nominate pending runs.
 */

const deadline = '2026-11-29T12:00:00.000Z';
const user = { uid: 0, sudoUser: undefined };

/** Journal lines from entries, with envelope times one second apart. */
function lines(...entries: JournalEntry[]): JournalLine[] {
  return entries.map((e, i) => ({
    ...e,
    level: 30,
    time: new Date(Date.parse('2026-11-29T11:59:00.000Z') + i * 1000).toISOString(),
    seq: i + 1,
    prev: '',
    msg: '',
  })) as JournalLine[];
}

const runEnd: JournalEntry = { type: 'run-end', status: 'succeeded', failedStep: undefined, message: undefined };
const pending: JournalEntry = { type: 'confirm-pending', deadline, withinMs: 60_000 };
const watchdog: JournalEntry = { type: 'watchdog-started', pid: 4242, startTime: '123' };
const reason = revertReason(deadline);

describe('confirmationOf: the journal decides', () => {
  it('a run without --confirm-within has nothing to confirm', () => {
    expect(confirmationOf(lines(runEnd))).toEqual({ state: 'none' });
  });

  it('after confirm-pending and the watchdog: awaiting, with the deadline and the watchdog', () => {
    expect(confirmationOf(lines(runEnd, pending, watchdog))).toEqual({
      state: 'awaiting',
      deadline,
      guard: { kind: 'watchdog', pid: 4242, startTime: '123' },
      rollbackStarted: false,
      joined: [],
    });
  });

  it('a systemd timer armed instead of a watchdog is the guard; the runs a re-apply joined are listed', () => {
    const joining: JournalEntry = { ...pending, joined: ['20261129T115500.000Z-aaaa'] } as JournalEntry;
    const timer: JournalEntry = { type: 'timer-armed', unit: 'runbook-revert-x-1', deadline };
    expect(confirmationOf(lines(runEnd, joining, timer))).toMatchObject({
      state: 'awaiting',
      guard: { kind: 'timer', unit: 'runbook-revert-x-1' },
      joined: ['20261129T115500.000Z-aaaa'],
    });
  });

  it('a moved deadline (confirm --extend, or a run that joined) is the deadline, and the latest guard armed for it keeps it', () => {
    const later = '2026-11-29T12:10:00.000Z';
    const moved: JournalEntry = { type: 'deadline-moved', deadline: later, previous: deadline, why: 'extend', user };
    const rearmed: JournalEntry = { type: 'watchdog-started', pid: 5151, startTime: '456' };
    expect(confirmationOf(lines(runEnd, pending, watchdog, moved, rearmed))).toMatchObject({
      state: 'awaiting',
      deadline: later,
      guard: { kind: 'watchdog', pid: 5151 },
    });
    const confirmed: JournalEntry = { type: 'confirmed', user, pid: 7, deadline: later };
    expect(confirmationOf(lines(runEnd, pending, watchdog, moved, rearmed, confirmed))).toMatchObject({
      state: 'confirmed',
      deadline: later,
    });
  });

  it('confirmed: who, and when (the entry time)', () => {
    const confirmed: JournalEntry = { type: 'confirmed', user, pid: 7, deadline };
    expect(confirmationOf(lines(runEnd, pending, watchdog, confirmed))).toEqual({
      state: 'confirmed',
      deadline,
      at: '2026-11-29T11:59:03.000Z',
      uid: 0,
    });
  });

  it('an automatic revert that began but did not end still awaits (the next command finishes it)', () => {
    const start: JournalEntry = { type: 'rollback-start', steps: ['a'], reason };
    const state = confirmationOf(lines(runEnd, pending, watchdog, start));
    expect(state).toMatchObject({ state: 'awaiting', rollbackStarted: true });
    const interrupted: JournalEntry = { type: 'rollback-end', status: 'interrupted', message: undefined, reason };
    expect(confirmationOf(lines(runEnd, pending, watchdog, start, interrupted))).toMatchObject({ state: 'awaiting' });
  });

  it('an automatic revert that ended is "reverted"; a rollback asked for by hand is "rolled-back"', () => {
    const start: JournalEntry = { type: 'rollback-start', steps: [], reason };
    const end: JournalEntry = { type: 'rollback-end', status: 'rolled-back', message: undefined, reason };
    expect(confirmationOf(lines(runEnd, pending, start, end))).toMatchObject({ state: 'reverted', deadline });
    const byHand: JournalEntry[] = [
      { type: 'rollback-start', steps: [] },
      { type: 'rollback-end', status: 'rolled-back', message: undefined },
    ];
    expect(confirmationOf(lines(runEnd, pending, ...byHand))).toMatchObject({ state: 'rolled-back' });
  });

  it('a confirmation after the revert changes nothing (the revert stands)', () => {
    const start: JournalEntry = { type: 'rollback-start', steps: [], reason };
    const end: JournalEntry = { type: 'rollback-end', status: 'rolled-back', message: undefined, reason };
    const confirmed: JournalEntry = { type: 'confirmed', user, pid: 7, deadline };
    expect(confirmationOf(lines(runEnd, pending, start, end, confirmed))).toMatchObject({ state: 'reverted' });
  });

  it('a deadline has passed at its very millisecond', () => {
    expect(isExpired(deadline, Date.parse(deadline) - 1)).toBe(false);
    expect(isExpired(deadline, Date.parse(deadline))).toBe(true);
  });
});

describe('--confirm-within DURATION', () => {
  it('takes seconds, or a whole number with s, m or h', () => {
    expect(parseDuration('--confirm-within', '90')).toBe(90_000);
    expect(parseDuration('--confirm-within', '30s')).toBe(30_000);
    expect(parseDuration('--confirm-within', '5m')).toBe(300_000);
    expect(parseDuration('--confirm-within', '1h')).toBe(3_600_000);
    expect(parseDuration('--confirm-within', '24h')).toBe(86_400_000);
  });

  it('refuses anything else with exit 2, saying what it takes', () => {
    for (const bad of ['', '0', '0s', 'abc', '1.5m', '-3', '5 m', '25h', '1d', '1e3']) {
      const error = thrown(() => parseDuration('--confirm-within', bad));
      expect(error, bad).toMatchObject({ exitCode: 2 });
      expect(error.message).toContain('not a duration between 1 second and 24 hours');
    }
  });

  it('reads back as people write it', () => {
    expect(formatDuration(3_000)).toBe('3 s');
    expect(formatDuration(300_000)).toBe('5 min');
    expect(formatDuration(5_430_000)).toBe('1 h 30 min 30 s');
  });
});

describe('pending-confirmation markers', () => {
  const host = { hostname: 'h', netns: 'net:[1]', sandbox: undefined };
  const runId = '20261129T115900.000Z-abcd';

  it('are listed when nothing is wrong with them, and removing one twice is harmless', () => {
    const stateDir = tempDir();
    try {
      expect(listPendingMarkers(stateDir)).toEqual([]); // no directory at all: the usual case
      writePendingMarker(stateDir, { runId, deadline, host });
      expect(listPendingMarkers(stateDir)).toEqual([{ runId, deadline, host }]);
      removePendingMarker(stateDir, runId);
      removePendingMarker(stateDir, runId);
      expect(listPendingMarkers(stateDir)).toEqual([]);
    } finally {
      removeDir(stateDir);
    }
  });

  it('nominate nothing when they are not what a marker is: trust nothing read back', () => {
    const stateDir = tempDir();
    try {
      mkdirSync(pendingDir(stateDir), { recursive: true });
      const good = { runId, deadline, host };
      // Named like no run (a path out of the state dir, say), a symlink, not JSON, a marker
      // naming another run than its file, a deadline that is no time.
      writeFileSync(path.join(pendingDir(stateDir), '..%2F..%2Fetc.json'), JSON.stringify(good));
      const other = '20261129T115901.000Z-0001';
      symlinkSync(path.join(stateDir, 'elsewhere.json'), pendingFile(stateDir, other));
      writeFileSync(path.join(stateDir, 'elsewhere.json'), JSON.stringify({ ...good, runId: other }));
      writeFileSync(pendingFile(stateDir, '20261129T115902.000Z-0002'), '{not json');
      writeFileSync(pendingFile(stateDir, '20261129T115903.000Z-0003'), JSON.stringify(good));
      writeFileSync(
        pendingFile(stateDir, '20261129T115904.000Z-0004'),
        JSON.stringify({ ...good, runId: '20261129T115904.000Z-0004', deadline: 'soon' }),
      );
      expect(listPendingMarkers(stateDir)).toEqual([]);
    } finally {
      removeDir(stateDir);
    }
  });
});
