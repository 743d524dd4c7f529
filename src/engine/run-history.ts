import { RunbookError } from '../errors.js';
import type { JournalLine, ReplacedRun, RunStartEntry, StepOutcome } from '../journal/entries.js';

/**
 * What a run's journal says happened, across all its attempts (the first run, resumes,
 * rollbacks). Resume and rollback start from this, never from memory or from the plan:
 * the journal is the registry of what was actually done.
 */
export interface RunHistory {
  start: RunStartEntry;
  /** Steps whose last attempt ended ok or changed: a resume does not run them again. */
  finishedSteps: string[];
  /**
   * Steps this run may have changed, in the order they were first changed: every step with a
   * `do` command that succeeded, or that was cut off (timed out, killed by a signal, or the
   * process died while it ran), even if the step then failed. Not a step found already in place
   * ("ok"), nor one whose `do` commands all ran to a failing exit: the run did not create those.
   */
  changedSteps: string[];
  /**
   * Of changedSteps, those changed only by a cut-off `do` command: it may or may not have taken
   * effect, so rollback undoes such a step only when its effect is there (issue 11).
   */
  cutOffSteps: string[];
  /** Values captured before each step's first `do`, for its undo: step id → name → value. */
  captures: Map<string, Record<string, string>>;
  /**
   * Values each step exported to later steps (issue 28): step id → name → value, the latest
   * journaled (a step exports again only when it ran again, before any step after it ran).
   */
  exports: Map<string, Record<string, string>>;
  /** Steps skipped by their `when:` (journaled as skipped): finished, and they exported nothing. */
  skippedSteps: string[];
  /**
   * Steps a rollback has already undone (and checked gone), or reported as not undoable, or
   * handed over to the run that replaced this one: nothing of them is left for its rollback.
   */
  undoneSteps: string[];
  rollbackStarted: boolean;
  rollbackFinished: boolean;
  /** How the latest attempt of running the steps ended, if it recorded an end. */
  lastRunEnd: string | undefined;
  /** The run that replaced this one, or is replacing it (issue 23): its undo was started. */
  replacedBy: string | undefined;
  /** This run replaced it, the `replaced` entry says: the run answers for nothing any more. */
  replaced: boolean;
  /** The earlier runs this run replaces (its run-start says), and whether that was finished. */
  replaces: readonly ReplacedRun[] | undefined;
  replaceFinished: boolean;
}

/** The steps a run changed and has not undone, in the order it changed them. */
export function stepsInEffect(history: Pick<RunHistory, 'changedSteps' | 'undoneSteps'>): string[] {
  const undone = new Set(history.undoneSteps);
  return history.changedSteps.filter((id) => !undone.has(id));
}

export function readRunHistory(lines: readonly JournalLine[]): RunHistory {
  const first = lines[0];
  if (first?.type !== 'run-start')
    throw new RunbookError('journal-damaged', 'a run journal must begin with its run-start entry');
  const outcomes = new Map<string, StepOutcome>();
  const changed: string[] = [];
  const changedSet = new Set<string>();
  const surelyChanged = new Set<string>();
  const undone = new Set<string>();
  let rollbackStarted = false;
  let rollbackFinished = false;
  let lastRunEnd: string | undefined;
  let replacedBy: string | undefined;
  let replaced = false;
  let replaces: readonly ReplacedRun[] | undefined;
  let replaceFinished = false;
  const captures = new Map<string, Record<string, string>>();
  const exports = new Map<string, Record<string, string>>();
  let pendingDo: string | undefined;
  const markChanged = (step: string, surely: boolean) => {
    if (surely) surelyChanged.add(step);
    if (changedSet.has(step)) return;
    changedSet.add(step);
    changed.push(step);
  };

  for (const line of lines) {
    // The engine runs one command at a time, so a command's end is the very next entry; a `do`
    // start followed by anything else is a command the process died in.
    if (pendingDo !== undefined && !(line.type === 'command-end' && line.phase === 'do')) {
      markChanged(pendingDo, false);
      pendingDo = undefined;
    }
    switch (line.type) {
      case 'run-start':
        // The steps it takes over count as this run's own from the start, changed before any
        // step it runs (so its rollback undoes them last), with the values their run captured.
        // Claimed before the earlier run hands them over: a crash in between leaves both
        // answering for them, which a rollback of both survives ("already gone"), never neither.
        replaces = line.replaces;
        for (const run of line.replaces ?? []) {
          for (const { step, captures: values, cutOff } of run.takeOver) {
            markChanged(step, !cutOff);
            captures.set(step, { ...values, ...captures.get(step) });
          }
          // Later export entries of this run (a kept step found in place exports again) win.
          for (const [step, values] of Object.entries(run.exports ?? {})) exports.set(step, { ...values });
        }
        break;
      case 'command-start':
        // A `do` command whose result never reached the journal may have changed the host.
        if (line.phase === 'do') pendingDo = line.step;
        break;
      case 'command-end':
        // A `do` command that exited with a failure changed nothing (say, `ip netns add` found
        // the namespace there already, made by someone else): undoing that step would delete
        // what the run did not create. One that succeeded did change the host. One that was
        // cut off (timeout, signal) may have: it counts as after a crash.
        if (line.phase === 'do') {
          pendingDo = undefined;
          // With ok_exit the entry says whether its status counted as success (`accepted`):
          // an accepted non-zero status did change the host.
          const ok = line.accepted ?? (line.exitCode === 0 && !line.timedOut);
          if (ok) markChanged(line.step, true);
          else if (line.timedOut || line.signal !== undefined) markChanged(line.step, false);
        }
        break;
      case 'capture': {
        // The first value wins: a resume that captures again may read what this run itself set.
        const values = captures.get(line.step) ?? {};
        values[line.name] ??= line.value;
        captures.set(line.step, values);
        break;
      }
      case 'export': {
        // The latest value wins: the step was read again because it ran again.
        const values = exports.get(line.step) ?? {};
        values[line.name] = line.value;
        exports.set(line.step, values);
        break;
      }
      case 'step-end':
        outcomes.set(line.step, line.outcome);
        break;
      case 'run-end':
        lastRunEnd = line.status;
        break;
      case 'rollback-start':
        rollbackStarted = true;
        replacedBy = line.replacedBy ?? replacedBy;
        break;
      case 'replaced':
        // What the new values keep is the replacing run's from here on.
        replaced = true;
        for (const step of line.handedOver) undone.add(step);
        break;
      case 'replace-end':
        replaceFinished = line.status === 'replaced';
        break;
      case 'step-undone':
        // A step that cannot be undone is done with as far as rollback goes: reported once.
        if (line.outcome === 'undone' || line.outcome === 'not-undoable') undone.add(line.step);
        break;
      case 'rollback-end':
        rollbackFinished = line.status === 'rolled-back';
        break;
      default:
        break;
    }
  }
  if (pendingDo !== undefined) markChanged(pendingDo, false); // the journal ends inside a do command
  // A journaled `skipped` is a step its `when:` skipped: done with, like ok or changed.
  const finishedSteps = [...outcomes]
    .filter(([, o]) => o === 'ok' || o === 'changed' || o === 'skipped')
    .map(([id]) => id);
  return {
    start: first,
    finishedSteps,
    changedSteps: changed,
    cutOffSteps: changed.filter((step) => !surelyChanged.has(step)),
    captures,
    exports,
    skippedSteps: [...outcomes].filter(([, o]) => o === 'skipped').map(([id]) => id),
    undoneSteps: [...undone],
    rollbackStarted,
    rollbackFinished,
    lastRunEnd,
    replacedBy,
    replaced,
    replaces,
    replaceFinished,
  };
}
