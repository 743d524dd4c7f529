import { closeSync, constants, fsyncSync, lstatSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import type { HostIdentity } from './entries.js';
import { pendingDir, pendingFile } from './paths.js';
import { createExclusive, ioError, mkdirPrivate, readNoFollow, removeQuietly } from './safe-fs.js';

/**
 * The runs of a state dir that await confirmation (`run --confirm-within`, issue 15), as one
 * small marker file each in <state-dir>/pending-confirmations/. Every runbook command that acts
 * on runs looks here first, to revert an expired unconfirmed run whose watchdog is gone (killed,
 * or the machine restarted): so this must cost next to nothing when nothing is pending — one
 * readdir of a directory that usually does not exist, no journal read.
 *
 * A marker only nominates a run; the run's journal (hash-checked, bound to its host) decides
 * whether it still awaits confirmation. Hence the order: the marker is made durable before the
 * journal's `confirm-pending` entry, and removed only after the journal records the end
 * (confirmed or reverted). A marker left by a crash in between is found stale and removed.
 *
 * Kept free of heavy imports: it is read at the start of commands.
 */
export interface PendingConfirmation {
  runId: string;
  /** ISO time. */
  deadline: string;
  /** The host the run changed: only a command on that host can revert it. */
  host: HostIdentity;
}

/** A run id as newRunId makes them: nothing that could name a path outside the state dir. */
const runIdPattern = /^[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9a-f]{0,8}$/;

/** Records a pending confirmation durably (fsync of the file and of its directory). */
export function writePendingMarker(stateDir: string, marker: PendingConfirmation): void {
  const dir = pendingDir(stateDir);
  mkdirPrivate(dir);
  const file = pendingFile(stateDir, marker.runId);
  const tmp = `${file}.tmp-${process.pid}`;
  // Private, never through a planted link (issue 10): the temporary is created exclusively.
  removeQuietly(tmp);
  createExclusive(tmp, `${JSON.stringify(marker)}\n`);
  fsyncPath(tmp);
  try {
    renameSync(tmp, file); // atomic: the marker exists whole or not at all
  } catch (error) {
    removeQuietly(tmp);
    throw ioError(error, file, 'replacing');
  }
  fsyncPath(dir);
}

export function removePendingMarker(stateDir: string, runId: string): void {
  rmSync(pendingFile(stateDir, runId), { force: true });
}

/**
 * Every well-formed marker. A file that is not a regular file, not named like a run, or not
 * the JSON a marker holds is ignored: it nominates nothing (trust nothing read back).
 */
export function listPendingMarkers(stateDir: string): PendingConfirmation[] {
  let names: string[];
  try {
    names = readdirSync(pendingDir(stateDir));
  } catch {
    return []; // the usual case: no run ever awaited confirmation here
  }
  const markers: PendingConfirmation[] = [];
  for (const name of names) {
    const runId = name.endsWith('.json') ? name.slice(0, -'.json'.length) : '';
    if (!runIdPattern.test(runId)) continue;
    const file = pendingFile(stateDir, runId);
    try {
      if (!lstatSync(file).isFile()) continue;
      const marker = JSON.parse(readNoFollow(file)) as Partial<PendingConfirmation>;
      if (marker.runId !== runId || typeof marker.deadline !== 'string' || Number.isNaN(Date.parse(marker.deadline)))
        continue;
      if (typeof marker.host?.netns !== 'string' || typeof marker.host.hostname !== 'string') continue;
      markers.push(marker as PendingConfirmation);
    } catch {
      continue; // removed meanwhile, or unreadable: nominates nothing
    }
  }
  return markers;
}

function fsyncPath(file: string): void {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
