import type { Phase, Plan } from '../plan/plan.js';

/**
 * The journal's vocabulary. A run's journal is an append-only NDJSON file; each line is one of
 * these entries plus an envelope (seq, prev hash, time, pino's level and msg).
 */

export type StepOutcome = 'ok' | 'changed' | 'failed' | 'skipped';
/**
 * `stopped`: ended on purpose after the `--until` step; `runbook resume` continues it.
 * `awaiting-confirmation`, `confirmed`, `reverted`: a run made with `--confirm-within` (issue 15)
 * succeeded and waits for `runbook confirm`; it was confirmed; or it was rolled back
 * automatically because it was not confirmed in time.
 * `replaced`: a later run of the same runbook with other values replaced it (issue 23): the steps
 * that differed were undone, the rest handed over to that run, which now answers for them.
 */
export type RunStatus =
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'interrupted'
  | 'stopped'
  | 'rolled-back'
  | 'awaiting-confirmation'
  | 'confirmed'
  | 'reverted'
  | 'replaced';

/** Which network namespace (and host) a run acted on, so it is never replayed elsewhere. */
export interface HostIdentity {
  hostname: string;
  /** Inode of /proc/self/ns/net, e.g. "net:[4026531840]". */
  netns: string;
  /** Set when the run happened inside a runbook sandbox host. */
  sandbox: string | undefined;
}

export interface RunStartEntry {
  type: 'run-start';
  runId: string;
  runbook: string;
  runbookFile: string;
  runbookHash: string;
  /** The exact runbook text, so that resume and rollback use what the run started with. */
  runbookSource: string;
  /** The exact text of every runbook it includes. */
  runbookIncludes: Array<{ name: string; file: string; source: string }>;
  params: Record<string, string>;
  /**
   * The plan rendered from that text and those parameters: what resume and rollback run, read
   * back with JSON.parse instead of parsing and validating the YAML again.
   */
  plan: Plan;
  user: { uid: number; sudoUser: string | undefined };
  host: HostIdentity;
  engineVersion: string;
  stopAfter: string | undefined;
  /**
   * The earlier runs of the runbook this run replaces (issue 23): what it undoes of each, what it
   * takes over. In the first entry, so that the run answers for what it takes over from the
   * moment it exists; `replace-end` says when the undo and the hand-over are done, and a resume
   * finishes what is not.
   */
  replaces?: readonly ReplacedRun[] | undefined;
  /** Set by the writer: see `journalFormat`. */
  journalFormat?: number;
}

/** A later process picking the run up again (resume or rollback). */
export interface AttemptStartEntry {
  type: 'attempt-start';
  /** replace: a later run of the same runbook undoes the steps that differ and takes the rest over. */
  kind: 'resume' | 'rollback' | 'replace';
  pid: number;
  user: { uid: number; sudoUser: string | undefined };
  note: string | undefined;
  /**
   * Set by the writer (format 2 on): the format of this attempt's entries, which may be newer
   * than the run-start's (this version resuming or rolling back a run 0.1.0 began).
   */
  journalFormat?: number;
}

export interface StepStartEntry {
  type: 'step-start';
  step: string;
  index: number;
  title: string;
}

export interface CommandStartEntry {
  type: 'command-start';
  step: string;
  phase: Phase;
  index: number;
  argv: readonly string[];
  timeoutMs: number;
  /** The text given on standard input, when the command has some. */
  stdin?: string | undefined;
  /** For a check or probe with retries: which attempt this is (1, 2, …). */
  attempt?: number | undefined;
  /**
   * A `read:` check or probe: this file was read by the engine itself, no program ran; `argv`
   * is then `["read", path]`. Absent for every command that ran a program.
   */
  read?: string | undefined;
}

/**
 * A command not run: a `do` or `undo` whose `if` / `unless` condition said so, or whose step was
 * refused, or any command that could not be started at all (a NUL in an argument: issue 22).
 */
export interface CommandSkippedEntry {
  type: 'command-skipped';
  step: string;
  phase: Phase;
  index: number;
  reason: string;
}

export interface CommandEndEntry {
  type: 'command-end';
  step: string;
  phase: Phase;
  index: number;
  exitCode: number | undefined;
  signal: string | undefined;
  timedOut: boolean;
  startError: string | undefined;
  durationMs: number;
  /** Bounded: the first few KiB of each stream. */
  stdout: string;
  stderr: string;
  /** Only for a command with ok_exit: whether its exit status was one it accepts. */
  accepted?: boolean | undefined;
}

export interface CheckEntry {
  type: 'check';
  step: string;
  phase: Phase;
  index: number;
  ok: boolean;
  reason: string;
  evidence: string | undefined;
  /** For a check with retries: which attempt this verdict is of (1, 2, …). */
  attempt?: number | undefined;
}

/** A value read before a step's `do`, kept for its `undo` (e.g. the previous ip_forward). */
export interface CaptureEntry {
  type: 'capture';
  step: string;
  name: string;
  value: string;
}

export interface FindingEntry {
  type: 'finding';
  step: string;
  index: number;
  cause: string;
  evidence: string | undefined;
  fix: string | undefined;
  argv: readonly string[];
}

export interface StepEndEntry {
  type: 'step-end';
  step: string;
  outcome: StepOutcome;
  durationMs: number;
  /** The do command failed but verify found the effect present anyway. */
  doFailed: boolean;
  /** For `skipped`: why (its `when:` did not hold, issue 28). */
  reason?: string | undefined;
}

/**
 * A value a step hands on to later steps (issue 28), read once the step holds. The latest one
 * journaled for a step is the one later steps use (a step is read again only when it ran again,
 * before any step after it); resume and rollback read it from here, never from the host.
 */
export interface ExportEntry {
  type: 'export';
  step: string;
  name: string;
  value: string;
}

/**
 * The final pass (issue 28): once the steps have run, every step that a later step could have
 * undone (one that changed the host after it) is verified again, checks only.
 */
export interface FinalPassStartEntry {
  type: 'final-pass-start';
  steps: readonly string[];
}

export interface FinalPassEndEntry {
  type: 'final-pass-end';
  /** `held`: every step still holds; `failed`: `step` no longer does. */
  status: 'held' | 'failed';
  step?: string | undefined;
  /** The steps that changed the host after `step` held: one of them undid it. */
  undoneBy?: readonly string[] | undefined;
}

export interface RunEndEntry {
  type: 'run-end';
  status: 'succeeded' | 'failed' | 'interrupted' | 'stopped';
  failedStep: string | undefined;
  message: string | undefined;
}

export interface RollbackStartEntry {
  type: 'rollback-start';
  steps: readonly string[];
  /** Set for an automatic revert: why ("automatic revert: not confirmed by <deadline>"). */
  reason?: string | undefined;
  /** Set when only the steps that differ are undone, for the run replacing this one (issue 23). */
  replacedBy?: string | undefined;
}

export interface StepUndoneEntry {
  type: 'step-undone';
  step: string;
  /** not-undoable: the step declares `undo: none`; rollback went on past it. */
  outcome: 'undone' | 'undo-failed' | 'not-undoable';
  durationMs: number;
  /** For not-undoable: the runbook's reason; for an undo refused before it ran (issue 22): why. */
  reason?: string | undefined;
}

export interface RollbackEndEntry {
  type: 'rollback-end';
  status: 'rolled-back' | 'failed' | 'interrupted';
  message: string | undefined;
  /** Repeated from rollback-start for an automatic revert, so the run's end status reads from one entry. */
  reason?: string | undefined;
  /** Repeated from rollback-start: this undo was part of a replace; `replaced` follows once it is done. */
  replacedBy?: string | undefined;
}

/**
 * In the journal of a run being replaced (issue 23), once the steps that differ are undone: the
 * run is replaced by `by`, which now answers for `handedOver` (the steps this run changed that
 * the new values keep as they are). Nothing of it is left for this run's own rollback.
 */
export interface ReplacedEntry {
  type: 'replaced';
  by: string;
  handedOver: readonly string[];
}

/** One earlier run a replacing run replaces: what it undoes of it, what it takes over. */
export interface ReplacedRun {
  runId: string;
  /** The steps of that run to undo, in the order to undo them (newest first). */
  undo: readonly string[];
  /**
   * The steps of that run the new values keep, which the replacing run takes over as if it had
   * made them: its rollback undoes them, with the values that run captured before doing them.
   */
  takeOver: ReadonlyArray<{
    step: string;
    captures: Record<string, string>;
    /** That run's `do` of it was cut off (it may or may not have taken effect). */
    cutOff: boolean;
  }>;
  /**
   * What the kept steps exported to later steps in that run (issue 28): step id → name → value,
   * for the undo of the steps taken over that use them.
   */
  exports?: Record<string, Record<string, string>> | undefined;
}

export interface ReplaceEndEntry {
  type: 'replace-end';
  status: 'replaced' | 'failed' | 'interrupted';
  message: string | undefined;
}

/**
 * `run --confirm-within`: the run succeeded and is provisional. Unless a `confirmed` entry
 * follows before `deadline`, the run is rolled back (by its watchdog, or by the next runbook
 * command in this state dir if the watchdog is gone).
 */
export interface ConfirmPendingEntry {
  type: 'confirm-pending';
  /** ISO time. */
  deadline: string;
  withinMs: number;
  /**
   * The runs of the same runbook on this host that awaited confirmation when this one was left
   * provisional, and which it joined (issue 24): one deadline for all of them, kept or reverted
   * together. Absent when none did.
   */
  joined?: string[] | undefined;
}

/**
 * A run's deadline moved (issue 24): by `runbook confirm --extend` (`why: 'extend'`), or
 * because a later run of the same runbook joined it with a window that ends later (`why:
 * 'joined'`, `by` that run). The run's guard was re-armed for the new deadline.
 */
export interface DeadlineMovedEntry {
  type: 'deadline-moved';
  /** The new deadline (ISO time). */
  deadline: string;
  previous: string;
  why: 'extend' | 'joined';
  /** For `joined`: the run that joined. */
  by?: string | undefined;
  user: { uid: number; sudoUser: string | undefined };
}

/**
 * A systemd transient timer (`systemd-run --on-active`) reverts the run at its deadline (issue
 * 24): systemd, not a process of ours, keeps the deadline, so killing runbook cannot cancel it.
 */
export interface TimerArmedEntry {
  type: 'timer-armed';
  /** The transient unit's name, without `.timer` / `.service`. */
  unit: string;
  /** The deadline it was armed for. */
  deadline: string;
}

/** The detached process that reverts the run at its deadline; pid and start time identify it. */
export interface WatchdogStartedEntry {
  type: 'watchdog-started';
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot): tells the watchdog from a reused pid. */
  startTime: string;
}

/** `runbook confirm`: the change stays. Who confirmed; the envelope's time says when. */
export interface ConfirmedEntry {
  type: 'confirmed';
  user: { uid: number; sudoUser: string | undefined };
  pid: number;
  /** The deadline it beat. */
  deadline: string;
  /** The runs confirmed together with this one (the same runbook, awaiting on this host). */
  together?: string[] | undefined;
}

export type JournalEntry =
  | RunStartEntry
  | AttemptStartEntry
  | StepStartEntry
  | CommandStartEntry
  | CommandEndEntry
  | CommandSkippedEntry
  | CheckEntry
  | CaptureEntry
  | ExportEntry
  | FindingEntry
  | StepEndEntry
  | RunEndEntry
  | RollbackStartEntry
  | StepUndoneEntry
  | RollbackEndEntry
  | ConfirmPendingEntry
  | WatchdogStartedEntry
  | TimerArmedEntry
  | DeadlineMovedEntry
  | ConfirmedEntry
  | FinalPassStartEntry
  | FinalPassEndEntry
  | ReplacedEntry
  | ReplaceEndEntry;

/** What every line carries besides the entry itself. */
export interface Envelope {
  level: number;
  time: string;
  seq: number;
  /** sha256 (hex) of the previous line's text; the first line's is all zeros (hash-chain.ts). */
  prev: string;
  msg: string;
}

export type JournalLine = JournalEntry & Envelope;

/**
 * The journal format this version writes (in the run-start entry). Bump it whenever an entry
 * kind is added or an entry's fields change (the plan a run-start records included), or a field
 * of a fixed set of values takes a new one (a phase, an outcome): a version
 * that does not know the new format then refuses the journal instead of misreading it, and the
 * schema test (test/journal/entry-schemas.test.ts) fails until the new field list (and
 * value sets) is recorded under the new format.
 *
 * - 1: the format of 0.1.0 (a journal without the field predates it: format 1 too). Fields had
 *   been added under it before 0.1.0 (`read` on command-start, the confirm-within entries,
 *   `onlyIfCreatedBy` in the plan), which no version checked.
 * - 2: validated on read (issue 27); adds issue 28's `export`, `final-pass-start` and
 *   `final-pass-end` entries, a skipped step's `reason` on step-end, the phases `when`, `export`
 *   and `final-verify`, a step's `when`, `export` and `imports` in the plan, and the format of an
 *   attempt's entries on attempt-start (this version resuming or rolling back a format-1 run
 *   goes on in format 2 from its attempt-start); and issue 22's phase `undo-guard` (what a
 *   container holds, looked at before an undo deletes it), a refused undo's `reason` on
 *   step-undone and a command that could not be started as command-skipped (both fields format
 *   1 had, used for more). Issue 24's `timer-armed` and `deadline-moved` entries, the runs a
 *   confirm-pending `joined` and those `together` on confirmed. Issue 23's `replaced` and
 *   `replace-end` entries, a run-start's `replaces`, a rollback's `replacedBy`, the attempt kind
 *   `replace`, and a precondition's `preflight`, `cause` and `fix` in the plan. A version older than this one
 *   refuses a format-2 journal rather than misread it.
 */
export const journalFormat = 2;

/**
 * The formats this version reads, each with its schema (entry-schemas.ts): a format-1 journal
 * reads as 0.1.0 wrote it, and its run can be resumed or rolled back by this version
 * (test/golden/ replays journals 0.1.0 wrote); what this version appends to one is in format 2,
 * from its attempt-start on.
 */
export const readableFormats: readonly number[] = [1, 2];
