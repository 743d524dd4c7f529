import { notStartedResult, succeeded, type CommandResult, type Executor } from '../exec/types.js';
import { whyNotStartable } from '../exec/startable.js';
import { afterCommandFinished } from '../fault/kill-points.js';
import type { JournalSink } from '../journal/sink.js';
import type { Phase, PlannedCommand } from '../plan/plan.js';
import { isReadOnlyPhase } from '../plan/read-only-phases.js';

/** Raised at a safe point (between commands) once SIGINT/SIGTERM asked the run to stop. */
export class InterruptedError extends Error {
  constructor() {
    super('interrupted');
    this.name = 'InterruptedError';
  }
}

/** Command output kept in the journal: enough to audit and diagnose, bounded in size. */
const maxOutputChars = 4096;

export interface CommandContext {
  executor: Executor;
  journal: JournalSink;
  /** Aborted when the user asked the run to stop; checked before every command. */
  signal: AbortSignal | undefined;
  onCommand?: ((event: CommandEvent) => void) | undefined;
}

export interface CommandEvent {
  stepId: string;
  phase: Phase;
  argv: readonly string[];
  result: CommandResult;
}

/**
 * Runs one command the journaled way: the intent is durable on disk before the command
 * starts, its result after it ends. Every command the engine runs goes through here.
 */
export async function runJournaled(
  ctx: CommandContext,
  stepId: string,
  phase: Phase,
  index: number,
  command: PlannedCommand,
  attempt?: number,
): Promise<CommandResult> {
  if (ctx.signal?.aborted) throw new InterruptedError();
  // A command that cannot start (a NUL in a captured value, an argument too long for Linux) is
  // journaled as not run, never as started, and fails like a program that is not installed.
  const unstartable = whyNotStartable(command.argv);
  if (unstartable !== undefined) return notStarted(ctx, stepId, phase, index, command, unstartable);
  ctx.journal.append({
    type: 'command-start',
    step: stepId,
    phase,
    index,
    argv: command.argv,
    timeoutMs: command.timeoutMs,
    // Optional fields only when used, so that journals of plain commands read as before.
    ...(command.stdin !== undefined && { stdin: command.stdin }),
    // A `read:` check: the marker that no program ran for this argv (["read", path]).
    ...(command.read !== undefined && { read: command.read }),
    ...(attempt !== undefined && { attempt }),
  });
  const result = await ctx.executor.run({
    argv: command.argv,
    timeoutMs: command.timeoutMs,
    ...(command.stdin !== undefined && { input: command.stdin }),
    signal: ctx.signal,
    readOnly: isReadOnlyPhase(phase),
    ...(command.read !== undefined && { read: command.read }),
  });
  // A crash point of the sweep (test/crash) only where a journal on disk is cut: the commands of
  // a check or of the assessment before a run (preflight, issue 23) leave nothing to resume.
  if (ctx.journal.durable !== false) afterCommandFinished();
  ctx.journal.append({
    type: 'command-end',
    step: stepId,
    phase,
    index,
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: result.timedOut,
    startError: result.startError,
    durationMs: result.durationMs,
    stdout: bounded(result.stdout),
    stderr: bounded(result.stderr),
    // With ok_exit, whether this status counted as success: run-history reads it (a `do` that
    // ended with an accepted non-zero status changed the host).
    ...(command.okExit !== undefined && { accepted: succeeded(result, command.okExit) }),
  });
  ctx.onCommand?.({ stepId, phase, argv: command.argv, result });
  // An interrupt stops the command too (the executor kills its process group): its failure
  // then means "interrupted", not "the step does not hold". Resume re-checks the step.
  if (ctx.signal?.aborted) throw new InterruptedError();
  return result;
}

/** The journal entry and result of a command that was not started because it could not be. */
function notStarted(
  ctx: CommandContext,
  stepId: string,
  phase: Phase,
  index: number,
  command: PlannedCommand,
  why: string,
): CommandResult {
  const reason = `it cannot be started: ${why}`;
  ctx.journal.append({ type: 'command-skipped', step: stepId, phase, index, reason });
  const result = notStartedResult(reason);
  ctx.onCommand?.({ stepId, phase, argv: command.argv, result });
  return result;
}

function bounded(text: string): string {
  return text.length <= maxOutputChars
    ? text
    : `${text.slice(0, maxOutputChars)}… (${text.length - maxOutputChars} more characters)`;
}
