import {
  closeSync,
  constants,
  fstatSync,
  futimesSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  statfsSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { RunbookError } from '../errors.js';
import type { RunStartEntry } from '../journal/entries.js';
import { findRun } from '../journal/find-run.js';
import { acquireLock, refuseIfLocked, type Lock } from '../journal/lock.js';
import {
  auditFile,
  cniCallsFile,
  indexFile,
  journalFile,
  plansDir,
  runsDir,
  sandboxesDir,
  watchdogLogFile,
} from '../journal/paths.js';
import {
  listPendingMarkers,
  removePendingMarker,
  writePendingMarker,
  type PendingConfirmation,
} from '../journal/pending-confirmations.js';
import { readJournal, runStartOf, verifyJournal, type ReadJournal } from '../journal/reader.js';
import { listRunIndexes, readRunIndex, withVerifiedJournal, type RunIndex } from '../journal/run-index.js';
import { RunJournal } from '../journal/run-journal.js';
import { mkdirPrivate, openForAppend, removeQuietly, replaceFile, syncFd, writeAll } from '../journal/safe-fs.js';
import { advice, runbookCommand } from '../suggestion.js';
import type { TrustedUsers } from '../trust/trusted-users.js';
import { isTrustedEntry } from './trust-state-dir.js';

export type { Lock, PendingConfirmation, ReadJournal, RunIndex, RunJournal };

/** What a store was opened for: reading (runs, journal) or also writing (run, rollback, check). */
export type StoreAccess = 'read' | 'write';

/**
 * A trusted state dir (issue 22): the only handle through which anything reads or writes runs,
 * journals, indexes, the lock, pending confirmations, cached plans, sandboxes and the audit
 * file. Made only by openRunStore (open-run-store.ts), which checks the state dir first; the
 * engine receives one and never a path (like Temporal's workflow code, which never touches
 * storage itself), so there is no way to act on a state dir that was not checked.
 *
 * Trust is checked once, when the store is opened: every entry is then a trusted user's and
 * writable by no one else, so no one else can add or swap one afterwards. Reads never follow a
 * link all the same (safe-fs.ts), and a cached plan is re-checked on the file opened.
 *
 * A store opened for reading refuses every write (an internal error: a read-only command that
 * writes is a bug), which is how `runs` and `journal` stay read-only.
 */
export class RunStore {
  /** @internal Use openRunStore. */
  constructor(
    /** Where the state dir is: for messages and suggestions, never to reach around the store. */
    readonly dir: string,
    readonly access: StoreAccess,
    /** Whose files this store believed when it was opened (src/trust/trusted-users.ts). */
    readonly trust: TrustedUsers,
  ) {}

  // --- Runs: their indexes and journals (src/journal/) -------------------------------------

  /** Every run, with an index, a journal or both, oldest first; a damaged one has status `damaged`. */
  listRuns(): RunIndex[] {
    return listRunIndexes(this.dir);
  }

  /**
   * The ids of the runs, from the file names in runs/ alone (nothing is read): for the CNI
   * plugin, which finds a container's runs by the tail of their ids (src/cni/cni-state.ts) and
   * must not read every run of a network on every call.
   */
  listRunIds(): string[] {
    let names: string[];
    try {
      names = readdirSync(runsDir(this.dir));
    } catch {
      return [];
    }
    const ids = new Set<string>();
    for (const name of names) {
      const match = /^(.+)\.(json|ndjson)$/.exec(name);
      if (match !== null) ids.add(match[1] as string);
    }
    return [...ids].sort();
  }

  /**
   * Every run, as `runs` shows it: each journal read and its hash chain checked, so that one
   * damaged since its index was written has status `damaged` (issue 22), not its index's.
   */
  listRunsVerified(): RunIndex[] {
    return listRunIndexes(this.dir).map((index) => withVerifiedJournal(this.dir, index));
  }

  /** One run's index (rebuilt from its journal if need be), or undefined when it has neither. */
  readRun(runId: string): RunIndex | undefined {
    return readRunIndex(this.dir, runId);
  }

  /** A run by its id, a unique prefix of it, or "latest"; exit 2 naming what was looked for. */
  findRun(idOrPrefix: string, onNote?: (note: string) => void): RunIndex {
    return findRun(this.dir, idOrPrefix, onNote);
  }

  /** A run's journal as it is (a torn last line set aside); exit 1 "damaged" if it cannot be read. */
  readJournal(runId: string): ReadJournal {
    return readJournal(journalFile(this.dir, runId));
  }

  /**
   * A run's journal, for a command that will act on what it records: the hash chain must hold
   * and agree with the index, and it must begin as a run. Otherwise exit 1 "damaged", naming it.
   */
  readIntactJournal(index: RunIndex): ReadJournal {
    const journal = this.readJournal(index.id);
    const problem = verifyJournal(journal, index);
    if (problem !== undefined) {
      throw new RunbookError(
        'journal-damaged',
        `the journal of run ${index.id} is damaged at entry ${problem.line}: ${problem.reason} (${journal.file}); refusing to act on it`,
        {
          hint: advice`inspect it with: ${runbookCommand('journal', index.id, '--verify')}`,
        },
      );
    }
    runStartOf(journal);
    return journal;
  }

  /** Starts the journal (and index) of a new run; its first entry is `start`. */
  startRun(start: RunStartEntry): RunJournal {
    this.mustWrite('start a run');
    return RunJournal.create(this.dir, start);
  }

  /** Reopens a run's journal to append a new attempt (resume, rollback, confirm, a revert). */
  reopenRun(runId: string, read: ReadJournal): RunJournal {
    this.mustWrite('continue a run');
    return RunJournal.reopen(this.dir, runId, read);
  }

  /**
   * Removes a run's files (`runbook prune`, issue 24): its index first, then its watchdog log,
   * then its journal, so that a crash half-way leaves a journal whose index is rebuilt (the run
   * listed again, pruned again next time), never an index whose journal is missing (damage).
   */
  removeRun(runId: string): void {
    this.mustWrite('prune a run');
    if (path.basename(runId) !== runId || runId.startsWith('.'))
      throw new RunbookError('internal', `not a run id: ${runId}`);
    removeQuietly(indexFile(this.dir, runId));
    removeQuietly(watchdogLogFile(this.dir, runId));
    removeQuietly(journalFile(this.dir, runId));
  }

  // --- The lock: one command acting on this state dir's runs at a time ---------------------

  lock(command: string): Lock {
    this.mustWrite('take the lock');
    return acquireLock(this.dir, command);
  }

  /** Exit 3 now if a live process holds the lock (nothing is taken): see refuseIfLocked. */
  refuseIfLocked(): void {
    refuseIfLocked(this.dir);
  }

  // --- Runs awaiting confirmation (`run --confirm-within`, issue 15) -----------------------

  /** The well-formed markers of runs awaiting confirmation (one readdir when there are none). */
  pendingConfirmations(): PendingConfirmation[] {
    return listPendingMarkers(this.dir);
  }

  markPendingConfirmation(marker: PendingConfirmation): void {
    this.mustWrite('mark a run as awaiting confirmation');
    writePendingMarker(this.dir, marker);
  }

  clearPendingConfirmation(runId: string): void {
    this.mustWrite('clear a pending confirmation');
    removePendingMarker(this.dir, runId);
  }

  /** The watchdog's log beside the run's journal, opened for appending (0600, never through a link). */
  openWatchdogLog(runId: string): { fd: number; file: string } {
    this.mustWrite("open a watchdog's log");
    const file = watchdogLogFile(this.dir, runId);
    mkdirPrivate(path.dirname(file));
    return { fd: openForAppend(file), file };
  }

  // --- The audit file: one line per `runbook check` -----------------------------------------

  /**
   * Appends one line, with O_APPEND in a single write, fsync'd: durable, never interleaved.
   * Returns the file's path, for the user.
   */
  appendAudit(record: object): string {
    this.mustWrite('append to the audit file');
    const file = auditFile(this.dir);
    mkdirPrivate(this.dir);
    const fd = openForAppend(file);
    try {
      writeAll(fd, `${JSON.stringify(record)}\n`, file);
      syncFd(fd, file);
    } finally {
      closeSync(fd);
    }
    return file;
  }

  // --- The CNI plugin's log of calls (src/cni/, docs/cni.md) -------------------------------

  /**
   * Appends one line to `cni-calls.ndjson`: one write with O_APPEND (never interleaved with
   * another call's), created 0600, never through a link. Not fsync'd: it is for people, and
   * runbook never reads it back; the runs' journals are what DEL and CHECK act on.
   */
  appendCniCall(record: object): void {
    this.mustWrite('log a CNI call');
    const file = cniCallsFile(this.dir);
    mkdirPrivate(this.dir);
    const fd = openForAppend(file);
    try {
      writeAll(fd, `${JSON.stringify(record)}\n`, file);
    } finally {
      closeSync(fd);
    }
  }

  // --- Cached plans (src/runbook/plan-cache.ts decides what they hold) ----------------------

  /**
   * A cached plan's text, if there is one that passes the trust rule on the file opened (not
   * the name: nothing can be swapped in between) and is at most `maxBytes`. Marks it used.
   */
  readPlan(key: string, maxBytes: number): string | undefined {
    const dir = plansDir(this.dir);
    for (const parent of [this.dir, dir]) {
      const stats = lstatOrUndefined(parent);
      if (stats === undefined || !isTrustedEntry(stats, 'dir', this.trust)) return undefined;
    }
    let fd: number;
    try {
      fd = openSync(path.join(dir, `${key}.json`), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return undefined; // none (or a link: O_NOFOLLOW)
    }
    try {
      const stats = fstatSync(fd);
      if (!isTrustedEntry(stats, 'file', this.trust) || stats.size > maxBytes) return undefined;
      const text = readFileSync(fd, 'utf8');
      // Used now: pruning keeps the most recently used entries.
      if (this.access === 'write') {
        const now = new Date();
        try {
          futimesSync(fd, now, now);
        } catch {
          // a read-only state dir still serves its plans
        }
      }
      return text;
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Stores a plan's text, unless that would leave the file system less than `keepFreeBytes`
   * free (the cache never takes the room a journal needs). False when it was not stored.
   */
  writePlan(key: string, text: string, keepFreeBytes: number): boolean {
    this.mustWrite('cache a plan');
    const { bavail, bsize } = statfsSync(this.dir);
    if (bavail * bsize < keepFreeBytes + Buffer.byteLength(text)) return false;
    const dir = plansDir(this.dir);
    mkdirPrivate(dir);
    if (!isTrustedEntry(lstatSync(dir), 'dir', this.trust)) return false;
    replaceFile(path.join(dir, `${key}.json`), text);
    return true;
  }

  /** The cached plans' names, sizes and last use, for pruning. */
  listPlans(): Array<{ name: string; size: number; mtimeMs: number }> {
    const dir = plansDir(this.dir);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    return names.flatMap((name) => {
      const stats = lstatOrUndefined(path.join(dir, name));
      return stats === undefined ? [] : [{ name, size: stats.size, mtimeMs: stats.mtimeMs }];
    });
  }

  removePlan(name: string): void {
    this.mustWrite('prune the plan cache');
    if (path.basename(name) !== name) throw new RunbookError('internal', `not a plan's name: ${name}`);
    removeQuietly(path.join(plansDir(this.dir), name));
  }

  // --- Persistent sandbox hosts (src/sandbox/persistent.ts) --------------------------------

  /**
   * Where this state dir keeps its sandboxes. A path, because a sandbox is made of bind mounts
   * that `mount` and `nsenter` need by name; what is in it was checked with the rest.
   */
  sandboxesDir(): string {
    return sandboxesDir(this.dir);
  }

  private mustWrite(what: string): void {
    if (this.access !== 'write')
      throw new RunbookError(
        'internal',
        `the state dir ${this.dir} was opened for reading only; cannot ${what} (a read-only command must not write)`,
      );
  }
}

function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}
