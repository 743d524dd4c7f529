import { existsSync } from 'node:fs';
import { invalidInput } from '../errors.js';
import type { Executor } from '../exec/types.js';
import { currentUser } from '../host/identity.js';
import { findRun } from '../journal/find-run.js';
import { acquireLock } from '../journal/lock.js';
import { listRunIndexes, type RunIndex } from '../journal/run-index.js';
import { RunJournal } from '../journal/run-journal.js';
import { loadRunbook } from '../runbook/load.js';
import type { CommandEvent } from './journaled-command.js';
import { isOneShotRun, isThisHost } from './host-binding.js';
import { openRecordedRun, recordedNothing } from './recorded-run.js';
import { executeAndRecord } from './record-run.js';
import type { StepReport, StepsResult } from './runner.js';

export interface ResumeOptions {
  stateDir: string;
  runId: string | undefined;
  executor: Executor;
  /** Accept a runbook file that changed since the run started (the recorded text is used). */
  force?: boolean | undefined;
  signal?: AbortSignal | undefined;
  onStep?: ((report: StepReport) => void) | undefined;
  onCommand?: ((event: CommandEvent) => void) | undefined;
  onNote?: ((note: string) => void) | undefined;
}

export type ResumeResult = { kind: 'nothing'; message: string } | ({ kind: 'resumed'; runId: string } & StepsResult);

const resumable: ReadonlySet<RunIndex['status']> = new Set(['interrupted', 'failed', 'stopped']);

/**
 * `runbook resume`: continues a run from its journal. Steps the journal shows finished are not
 * run again; the step in flight when the run stopped starts over with its check, since a
 * command whose result never reached the journal may or may not have taken effect.
 */
export async function resumeRun(options: ResumeOptions): Promise<ResumeResult> {
  const { stateDir } = options;
  const lock = acquireLock(stateDir, 'resume');
  try {
    if (lock.takeoverNote !== undefined) options.onNote?.(lock.takeoverNote);
    const index = options.runId === undefined ? latestResumable(stateDir) : findRun(stateDir, options.runId);
    if (index === undefined)
      return { kind: 'nothing', message: 'nothing to resume: no interrupted, failed or stopped run' };
    if (!resumable.has(index.status)) {
      return { kind: 'nothing', message: `nothing to resume: run ${index.id} is ${index.status}` };
    }
    if (recordedNothing(stateDir, index)) {
      return {
        kind: 'nothing',
        message: `nothing to resume: run ${index.id} stopped before recording anything (it changed nothing); start a new run`,
      };
    }
    const run = openRecordedRun(stateDir, index);
    if (run.history.rollbackStarted) {
      throw invalidInput(
        `run ${index.id} was being rolled back; resuming it would redo what the rollback undid`,
        `finish the rollback with: runbook rollback ${index.id}`,
      );
    }
    const notes = [
      checkRunbookUnchanged(run.history.start.runbookFile, run.history.start.runbookHash, index.id, options.force),
    ];
    if (run.journal.tornTail !== undefined) notes.push('the last journal line was torn by a crash and was cut off');
    for (const note of notes) if (note !== undefined) options.onNote?.(note);

    const journal = RunJournal.reopen(stateDir, index.id, run.journal);
    try {
      journal.append({
        type: 'attempt-start',
        kind: 'resume',
        pid: process.pid,
        user: currentUser(),
        note: notes.filter(Boolean).join('; ') || undefined,
      });
      const result = await executeAndRecord(journal, {
        plan: run.plan,
        executor: options.executor,
        signal: options.signal,
        finishedSteps: run.history.finishedSteps,
        onStep: options.onStep,
        onCommand: options.onCommand,
      });
      return { kind: 'resumed', runId: index.id, ...result };
    } finally {
      journal.close();
    }
  } finally {
    lock.release();
  }
}

/**
 * The default target: the latest resumable run made on this host. Only when there is none is a
 * run of another host (a sandbox, say) picked, so that the refusal names where it belongs;
 * never a one-shot --sandbox run, whose host is gone (naming it by id says so).
 */
function latestResumable(stateDir: string): RunIndex | undefined {
  const candidates = listRunIndexes(stateDir)
    .reverse()
    .filter((r) => resumable.has(r.status) && !recordedNothing(stateDir, r));
  return candidates.find((r) => isThisHost(r.host)) ?? candidates.find((r) => !isOneShotRun(r.host));
}

/** The hash of the runbook as it is on disk now, includes and all; undefined if it is gone or broken. */
function currentRunbookHash(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return loadRunbook(file).hash;
  } catch {
    return undefined;
  }
}

/**
 * Resume runs the runbook text recorded at the start; if the file has changed since, the user
 * may be expecting the new version, so refuse unless --force says the recorded one is meant.
 */
function checkRunbookUnchanged(
  file: string,
  recordedHash: string,
  runId: string,
  force: boolean | undefined,
): string | undefined {
  const currentHash = currentRunbookHash(file);
  if (currentHash === recordedHash) return undefined;
  const what =
    currentHash === undefined
      ? `${file} no longer exists or no longer loads`
      : `${file} (or a runbook it includes) has changed since run ${runId} started`;
  if (!force) {
    throw invalidInput(
      `${what}; nothing was changed`,
      `resume with the runbook as it was recorded: runbook resume ${runId} --force (or start a new run)`,
    );
  }
  return `${what}; --force: resuming with the runbook text recorded when the run started`;
}
