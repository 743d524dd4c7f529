import { RunbookError } from '../../errors.js';
import type { Executor } from '../../exec/types.js';
import type { RunStore } from '../../store/run-store.js';
import type { FindOwners } from '../foreign-contents.js';
import { confirmationOf } from './confirmation.js';
import { armGuard, isGuardAlive, type RevertLaunch } from './guard.js';
import { dueHere, revertEachWhileLocked, withStateLockWaiting, type RevertOutcome } from './revert-due.js';

/**
 * What a run's guard does (guard.ts): the watchdog sleeps until the run's deadline and then
 * reverts; a systemd timer's service is started at the deadline and reverts. Either way, at the
 * deadline it reverts every run due on this host, newest first (runs that joined share a
 * deadline, and a later run may build on an earlier one), unless their journals show them
 * confirmed. The process around it (signals, its log, telling the run it is armed) is the CLI's.
 */

export interface GuardOptions {
  /** The store the door opened when the process started. */
  store: RunStore;
  runId: string;
  executor: Executor;
  /** Aborted by SIGTERM (a `confirm`, a shutdown): while waiting, at once; while reverting, at the next safe point. */
  signal: AbortSignal;
  log: (line: string) => void;
  /**
   * Opens the state dir through the door again. Hours may have passed since the door checked
   * it: it is checked again before acting on what its journals say (a mode loosened meanwhile
   * would let anyone plant an undo); throws if it may no longer be trusted.
   */
  reopen: () => RunStore;
  /** Names whose are the things a refused undo found (rollback.ts), for the store reopened. */
  findOwners?: ((store: RunStore) => FindOwners) | undefined;
}

/**
 * How long a guard waits, at its deadline, for the locks another command holds: long enough
 * for any run to finish, short enough that a stuck holder cannot keep an unconfirmed change in
 * place for good (issue 22: the log says what it waited for, and the next command reverts).
 */
export const guardLockWaitMs = 15 * 60_000;

/** The watchdog's whole life: returns its exit code (nobody waits for it: for the log). */
export async function watchOverDeadline(
  options: GuardOptions & { ready: (deadline: string) => void },
): Promise<number> {
  const { runId, executor, signal, log } = options;
  let deadline = awaitedDeadline(options.store, runId);
  options.ready(deadline);
  log(`run ${runId}: reverting it at ${deadline} unless it is confirmed`);

  // The first command a process spawns costs several times the later ones (code compiled on
  // first use, binaries read from disk); pay that now, with a read-only `ip -V` on each of the
  // executor's two paths (the light one of checks and probes, execa for undo commands), rather
  // than at the deadline, where the revert should take as little as it can.
  await executor.run({ argv: ['ip', '-V'], timeoutMs: 5_000, readOnly: true });
  await executor.run({ argv: ['ip', '-V'], timeoutMs: 5_000 });

  for (;;) {
    if (!(await sleepUntil(deadline, signal))) return 0;
    const outcome = await revertDueNow(options);
    if (typeof outcome === 'number') return outcome;
    switch (outcome.kind) {
      case 'not-due':
        // Its deadline moved (confirm --extend, a run that joined it), or the clock did.
        log(`run ${runId} is not due yet (deadline ${outcome.deadline}): waiting again`);
        deadline = outcome.deadline;
        continue;
      case 'settled':
        log(`run ${runId} no longer awaits confirmation (${outcome.confirmation.state}): nothing to do`);
        return 0;
      case 'reverted':
        return exitOf(outcome);
    }
  }
}

/**
 * What a systemd timer's service does at the deadline: the same revert, once. Should the run
 * not be due (its deadline moved and this timer was not stopped, or the clock moved), a guard
 * is armed for its deadline unless one that is not this timer is already waiting.
 */
export async function revertAtDeadline(
  options: GuardOptions & { unit: string; launch: RevertLaunch },
): Promise<number> {
  const outcome = await revertDueNow(options);
  if (typeof outcome === 'number') return outcome;
  switch (outcome.kind) {
    case 'settled':
      options.log(`run ${options.runId} no longer awaits confirmation (${outcome.confirmation.state}): nothing to do`);
      return 0;
    case 'reverted':
      return exitOf(outcome);
    case 'not-due':
      return rearm(options, outcome.deadline);
  }
}

async function rearm(
  options: GuardOptions & { unit: string; launch: RevertLaunch },
  deadline: string,
): Promise<number> {
  const store = options.reopen();
  const index = store.readRun(options.runId);
  if (index === undefined) return 0;
  const read = store.readIntactJournal(index);
  const confirmation = confirmationOf(read.lines);
  if (confirmation.state !== 'awaiting') return 0;
  const { guard } = confirmation;
  const another = guard !== undefined && !(guard.kind === 'timer' && guard.unit === options.unit);
  if (another && (await isGuardAlive(guard))) {
    options.log(
      `run ${options.runId} is not due yet (deadline ${deadline}), and its guard waits for it: nothing to do`,
    );
    return 0;
  }
  const journal = store.reopenRun(options.runId, read);
  try {
    const armed = await armGuard(store, journal, options.runId, deadline, options.launch, options.log);
    options.log(`run ${options.runId} is not due yet (deadline ${deadline}): armed ${armed.kind} for it`);
  } finally {
    journal.close();
  }
  return 0;
}

/**
 * At the deadline: the state dir checked again, then, under its lock and the host's (waiting
 * for a command holding them: the revert comes after it), every due run here reverted, newest
 * first. The outcome for `runId`, or an exit code when the state dir may not be trusted.
 */
async function revertDueNow(options: GuardOptions): Promise<RevertOutcome | number> {
  const { runId, log } = options;
  let checked: RunStore;
  try {
    checked = options.reopen();
  } catch (error) {
    log(`not reverting run ${runId}: ${(error as Error).message}`);
    return 2;
  }
  let outcomes: RevertOutcome[];
  try {
    outcomes = await withStateLockWaiting(
      checked,
      `automatic revert of run ${runId}`,
      // A command holding the locks (a long run, say) is waited for, the revert coming after it;
      // but not forever (issue 22): past the bound, a later command reverts the run.
      { executor: options.executor, lockWaitMs: guardLockWaitMs, signal: options.signal, onNote: log },
      () => {
        const others = dueHere(checked)
          .map((m) => m.runId)
          .filter((id) => id !== runId);
        const runIds = [...others, runId].sort((a, b) => b.localeCompare(a));
        return revertEachWhileLocked({
          store: checked,
          runIds,
          executor: options.executor,
          signal: options.signal,
          onNote: log,
          findOwners: options.findOwners?.(checked),
        });
      },
    );
  } catch (error) {
    if (!(error instanceof RunbookError && error.code === 'locked')) throw error;
    log(
      `gave up after ${guardLockWaitMs / 60_000} min waiting for the locks: ${error.message}; ` +
        `run ${runId} stays as it is until a later runbook command in this state dir reverts it (runbook runs shows it past its deadline)`,
    );
    return 3;
  }
  for (const outcome of outcomes) {
    if (outcome.kind === 'reverted' && outcome.runId !== runId)
      log(`run ${outcome.runId} (due too): ${describe(outcome)}`);
  }
  const mine = outcomes.find((o) => o.runId === runId);
  // Not reached: an earlier revert (of a newer run) failed, and the host is half-way.
  if (mine === undefined) {
    log(`run ${runId} not reverted: the revert of a later run stopped first (see its journal)`);
    return 1;
  }
  if (mine.kind === 'reverted') log(`run ${runId}: ${describe(mine)}`);
  return mine;
}

function describe(outcome: Extract<RevertOutcome, { kind: 'reverted' }>): string {
  const { result } = outcome;
  return result.kind === 'nothing' ? result.message : `automatic revert ${result.status}`;
}

function exitOf(outcome: Extract<RevertOutcome, { kind: 'reverted' }>): number {
  const { result } = outcome;
  return result.kind === 'nothing' || result.status === 'rolled-back' ? 0 : 1;
}

/** The deadline a run's journal gives, for its guard; refuses if the run does not await confirmation. */
export function awaitedDeadline(store: RunStore, runId: string): string {
  const confirmation = confirmationOf(store.readJournal(runId).lines);
  if (confirmation.state !== 'awaiting') {
    throw new RunbookError('invalid-input', `run ${runId} does not await confirmation (${confirmation.state})`);
  }
  return confirmation.deadline;
}

/**
 * Sleeps until `deadline` (ISO) or until `signal` aborts; true if the deadline came. Wakes at
 * least once a minute to look at the clock again, rather than trusting one long timer.
 */
export async function sleepUntil(deadline: string, signal: AbortSignal): Promise<boolean> {
  const at = Date.parse(deadline);
  while (!signal.aborted) {
    const remaining = at - Date.now();
    if (remaining <= 0) return true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(remaining, 60_000));
      signal.addEventListener('abort', done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }
  return false;
}
