import { assign, fromPromise, setup, type PromiseActorLogic } from 'xstate';
import type { StepOutcome } from '../journal/entries.js';
import type { Plan } from '../plan/plan.js';

/**
 * Builds the statecharts the engine runs from a plan: a pure function, no I/O. There are two,
 * and each is written once, whatever the size of the plan:
 *
 * The step machine: the lifecycle of one step, whose final states are named after the step's
 * outcome.
 *
 *   pending ──(finished in an earlier attempt)──▶ skipped
 *     └──▶ check ──(holds)──▶ ok                       (already satisfied: nothing done)
 *            └──(does not hold)──▶ do ──▶ verify ──(holds)──▶ changed
 *                                           └──(does not hold)──▶ diagnosing ──▶ failed
 *
 * A step with no `do` (a pure verification, e.g. a ping) goes from a failed check straight to
 * diagnosing. `do` failing does not fail the step by itself: verify decides (the effect may be
 * present anyway, created by someone else).
 *
 * The run machine: walks the plan in order. In `Step` it invokes the step machine for the
 * step at `index` (each step of the plan is one invoked instance of the step machine), then
 * decides in `StepEnded` where the run goes:
 *
 *   Starting ─▶ Step ─▶ StepEnded ─┬─(more steps)─▶ Step (the next one)
 *                                  └─▶ Succeeded | Failed | Stopped (--until)
 *   (a phase throws: interrupt, internal error) ─▶ Aborted
 *
 * Why not one state per step (as this file once built): xstate constructs every state node
 * of a machine up front, and ten nodes per step were most of the engine's cost per step and
 * of a large run's memory (docs/performance.md). Built this way, the machines are the same
 * size for 10 steps as for 10,000: the plan is data in the run machine's context.
 *
 * Each machine owns its result: each phase's actor returns what it found (a failed check,
 * whether a command failed, the findings, how long it took), which the step machine keeps in
 * its context; its `output` is the step's report; the run machine appends the reports, and its
 * `output` is the steps' result (`StepsResult` once the runner has read an Aborted run's error).
 *
 * What a phase does (run commands, evaluate checks, run probes) and what the runner does on
 * entering and finishing a step (journal it, print it) are referenced *by name*; their
 * implementations are supplied by the runner, so state-transition tests can supply fakes.
 */

/** Final states of the run. Capitalised, as are all the run machine's states. */
export const RunEnd = { succeeded: 'Succeeded', failed: 'Failed', stopped: 'Stopped', aborted: 'Aborted' } as const;

/** A verification that did not hold, with what it showed. */
export interface FailedCheck {
  argv: readonly string[];
  reason: string;
  evidence: string | undefined;
  /** A `requires` check, or an `only_if_created_by` refusal (argv empty): `do` did not run because of it. */
  refused?: true;
}

/** A probe that matched: the cause of a failure, the line that shows it, the way to fix it. */
export interface Finding {
  cause: string;
  evidence: string | undefined;
  fix: string | undefined;
  argv: readonly string[];
}

/** One finished step, as the run reports it. */
export interface StepReport {
  stepId: string;
  title: string;
  outcome: StepOutcome;
  durationMs: number;
  doFailed: boolean;
  /** `do` did not run: a `requires` check did not hold, or `only_if_created_by` refused it. */
  refused?: true;
}

/** The step a run failed at: the check that did not hold and what the probes found. */
export interface StepFailure {
  stepId: string;
  title: string;
  check: FailedCheck | undefined;
  findings: Finding[];
}

/** How the steps of a run (or of a resumed run) ended. */
export interface StepsResult {
  status: 'succeeded' | 'failed' | 'stopped' | 'interrupted';
  steps: StepReport[];
  failure: StepFailure | undefined;
}

/** The machine's output: the steps' result, or how far it got before an actor threw. */
export type RunOutput =
  | (StepsResult & { status: 'succeeded' | 'failed' | 'stopped' })
  | { status: 'aborted'; steps: StepReport[]; error: unknown };

export interface PhaseInput {
  stepId: string;
}
export interface ChecksInput extends PhaseInput {
  phase: 'check' | 'verify';
}
/** What a phase's actor returns, besides its own outcome: how long it ran. */
interface Timed {
  durationMs: number;
}
export interface ChecksOutput extends Timed {
  /** The first check that did not hold; undefined when all hold. */
  failed: FailedCheck | undefined;
}
export interface CommandsOutput extends Timed {
  allSucceeded: boolean;
  /** The `requires` check that did not hold, when `do` was refused (nothing ran). */
  refused: FailedCheck | undefined;
}
export interface ProbesOutput extends Timed {
  findings: Finding[];
}

export interface RunInput {
  /** Steps that an earlier attempt of this run finished (from the journal): not run again. */
  finishedSteps?: readonly string[];
  /** `--until`: stop after this step. */
  stopAfter?: string | undefined;
}

/** What the step machine is told about its step: all it needs of the plan. */
export interface StepInput {
  stepId: string;
  title: string;
  /** A step without `do` is a pure verification: a failed check goes straight to diagnosing. */
  hasDo: boolean;
  /** An earlier attempt of this run finished the step (resume): it is skipped. */
  finishedEarlier: boolean;
}

/** The step machine's context: its input, and what the step has found so far. */
export interface StepContext extends StepInput {
  durationMs: number;
  /** Whether its `do` had a failing command (reported with its outcome). */
  doFailed: boolean;
  /** The last check that did not hold (check or verify phase). */
  check: FailedCheck | undefined;
  findings: Finding[];
}

/** The step machine's output: the step's report, and its failure when it failed. */
export interface StepOutput {
  report: StepReport;
  failure: StepFailure | undefined;
}

export interface RunContext {
  /** The plan's steps, in order, as the step machine is told about them. */
  plan: ReadonlyArray<Omit<StepInput, 'finishedEarlier'>>;
  finishedSteps: Readonly<Record<string, true>>;
  stopAfter: string | undefined;
  /** The step in progress (in `Step`), or the one that just ended (in `StepEnded`). */
  index: number;
  /** Every finished step, in order: the output's `steps`. */
  steps: StepReport[];
  failure: StepFailure | undefined;
  error: unknown;
}

export interface StepParams {
  stepId: string;
}
export interface StepFinishedParams extends StepParams {
  outcome: StepOutcome;
}

const notProvided = (name: string) => () => {
  throw new Error(`${name} was not provided to the run machine`);
};

type StepHook<P> = (args: { context: RunContext }, params: P) => void;

/** Implementations of the machines' named actors and step hooks (see buildRunMachine). */
export interface RunImplementations {
  /** The step machine's phases. */
  actors?: {
    runChecks?: PromiseActorLogic<ChecksOutput, ChecksInput>;
    runCommands?: PromiseActorLogic<CommandsOutput, PhaseInput>;
    runProbes?: PromiseActorLogic<ProbesOutput, PhaseInput>;
  };
  /** Side effects on entering a step and once its report is in `context.steps` (its last). */
  actions?: { stepEntered?: StepHook<StepParams>; stepFinished?: StepHook<StepFinishedParams> };
}

/** Adds what a phase found to the step's running total. */
const addTime = (context: StepContext, output: Timed) => context.durationMs + output.durationMs;

/**
 * The step machine: the lifecycle of one step, the same for every step. Without
 * implementations, the phase actors are placeholders that throw.
 */
function buildStepMachine(impl: RunImplementations = {}) {
  return setup({
    types: {
      context: {} as StepContext,
      input: {} as StepInput,
      output: {} as StepOutput,
    },
    actors: {
      runChecks: impl.actors?.runChecks ?? fromPromise<ChecksOutput, ChecksInput>(notProvided('runChecks')),
      runCommands: impl.actors?.runCommands ?? fromPromise<CommandsOutput, PhaseInput>(notProvided('runCommands')),
      runProbes: impl.actors?.runProbes ?? fromPromise<ProbesOutput, PhaseInput>(notProvided('runProbes')),
    },
    actions: {
      noteChecks: assign(({ context }, output: ChecksOutput) => ({
        durationMs: addTime(context, output),
        // A refused `do` is the story of this step's failure; verify failing after it is no news.
        check: context.check?.refused === true ? context.check : (output.failed ?? context.check),
      })),
      noteDoResult: assign(({ context }, output: CommandsOutput) => ({
        durationMs: addTime(context, output),
        doFailed: !output.allSucceeded,
        check: output.refused ?? context.check,
      })),
      noteFindings: assign(({ context }, output: ProbesOutput) => ({
        durationMs: addTime(context, output),
        findings: output.findings,
      })),
    },
    guards: {
      finishedEarlier: ({ context }) => context.finishedEarlier,
      hasDo: ({ context }) => context.hasDo,
      checksPassed: (_args, output: ChecksOutput) => output.failed === undefined,
    },
  }).createMachine({
    id: 'step',
    initial: 'pending',
    context: ({ input }) => ({ ...input, durationMs: 0, doFailed: false, check: undefined, findings: [] }),
    states: {
      pending: {
        always: [{ guard: 'finishedEarlier', target: 'skipped' }, { target: 'check' }],
      },
      check: {
        invoke: {
          src: 'runChecks',
          input: ({ context }) => ({ stepId: context.stepId, phase: 'check' as const }),
          onDone: [
            {
              guard: { type: 'checksPassed', params: ({ event }) => event.output },
              target: 'ok',
              actions: { type: 'noteChecks', params: ({ event }) => event.output },
            },
            {
              guard: 'hasDo',
              target: 'do',
              actions: { type: 'noteChecks', params: ({ event }) => event.output },
            },
            { target: 'diagnosing', actions: { type: 'noteChecks', params: ({ event }) => event.output } },
          ],
          // No onError in this machine: an actor that throws (an interrupt, a journal that
          // cannot be written) fails the step machine with that very error, and the run
          // machine ends in Aborted with it.
        },
      },
      do: {
        invoke: {
          src: 'runCommands',
          input: ({ context }) => ({ stepId: context.stepId }),
          onDone: { target: 'verify', actions: { type: 'noteDoResult', params: ({ event }) => event.output } },
        },
      },
      verify: {
        invoke: {
          src: 'runChecks',
          input: ({ context }) => ({ stepId: context.stepId, phase: 'verify' as const }),
          onDone: [
            {
              guard: { type: 'checksPassed', params: ({ event }) => event.output },
              target: 'changed',
              actions: { type: 'noteChecks', params: ({ event }) => event.output },
            },
            { target: 'diagnosing', actions: { type: 'noteChecks', params: ({ event }) => event.output } },
          ],
        },
      },
      diagnosing: {
        invoke: {
          src: 'runProbes',
          input: ({ context }) => ({ stepId: context.stepId }),
          onDone: { target: 'failed', actions: { type: 'noteFindings', params: ({ event }) => event.output } },
        },
      },
      skipped: { type: 'final', output: { outcome: 'skipped' } },
      ok: { type: 'final', output: { outcome: 'ok' } },
      changed: { type: 'final', output: { outcome: 'changed' } },
      failed: { type: 'final', output: { outcome: 'failed' } },
    },
    // The final state reached names the outcome; the context holds the rest of the story.
    output: ({ context, event }): StepOutput => {
      const { outcome } = event.output as { outcome: StepOutcome };
      const { stepId, title } = context;
      // A refused `do` did not fail: it never ran.
      const refused = context.check?.refused === true;
      const report: StepReport = {
        stepId,
        title,
        outcome,
        durationMs: Math.round(context.durationMs),
        doFailed: context.doFailed && !refused,
        ...(refused ? { refused: true as const } : {}),
      };
      const failure =
        outcome === 'failed' ? { stepId, title, check: context.check, findings: context.findings } : undefined;
      return { report, failure };
    },
  });
}

/**
 * The run machine's named pieces. Without implementations, the phase actors are placeholders
 * that throw and the hooks do nothing.
 */
function runMachineSetupWith(impl: RunImplementations = {}) {
  return setup({
    types: {
      context: {} as RunContext,
      input: {} as RunInput,
      events: {} as { type: 'start' },
      output: {} as RunOutput,
    },
    actors: { runStep: buildStepMachine(impl) },
    actions: {
      stepEntered: (args, params: StepParams) => impl.actions?.stepEntered?.(args, params),
      stepFinished: (args, params: StepFinishedParams) => impl.actions?.stepFinished?.(args, params),
      recordOutcome: assign(({ context }, output: StepOutput) => {
        // Appended in place rather than copied: copying the list of reports at every step
        // made the cost of a step grow with the length of the run. Nothing else holds the
        // array while the run is going (the output hands it over once the run has ended).
        context.steps.push(output.report);
        return { failure: output.failure ?? context.failure };
      }),
      nextStep: assign({ index: ({ context }) => context.index + 1 }),
      keepError: assign({ error: ({ event }) => (event as { error?: unknown }).error }),
    },
    guards: {
      planIsEmpty: ({ context }) => context.plan.length === 0,
      stepFailed: ({ context }) => context.failure !== undefined,
      isStopPoint: ({ context }) => context.stopAfter === context.plan[context.index]?.stepId,
      moreSteps: ({ context }) => context.index + 1 < context.plan.length,
    },
  });
}

const stepIdAt = (context: RunContext): string => context.plan[context.index]?.stepId ?? '';

/**
 * Builds the run machine for a plan. Pure: same plan, same machine. The runner passes its
 * implementations here rather than through `machine.provide()`: the phase actors belong to the
 * step machine, which the run machine invokes, and `provide()` on the run machine would not
 * reach them.
 */
export function buildRunMachine(plan: Pick<Plan, 'runbook' | 'steps'>, implementations?: RunImplementations) {
  return runMachineSetupWith(implementations).createMachine({
    id: 'run',
    initial: 'Starting',
    context: ({ input }) => ({
      plan: plan.steps.map((s) => ({ stepId: s.id, title: s.title, hasDo: s.do.length > 0 })),
      finishedSteps: Object.fromEntries((input.finishedSteps ?? []).map((id) => [id, true as const])),
      stopAfter: input.stopAfter,
      index: 0,
      steps: [],
      failure: undefined,
      error: undefined,
    }),
    states: {
      // The run waits for an explicit `start` event: while an actor is being started, xstate
      // runs the initial state's entry actions only after starting its invoked actors, which
      // would journal the first step's first command before the step itself.
      Starting: {
        on: { start: [{ guard: 'planIsEmpty', target: RunEnd.succeeded }, { target: 'Step' }] },
      },
      Step: {
        // The entry action runs before the step machine starts: the step is journaled as
        // entered before its first command.
        entry: { type: 'stepEntered', params: ({ context }) => ({ stepId: stepIdAt(context) }) },
        invoke: {
          src: 'runStep',
          input: ({ context }) => {
            const step = context.plan[context.index]!;
            return { ...step, finishedEarlier: context.finishedSteps[step.stepId] === true };
          },
          onDone: {
            target: 'StepEnded',
            actions: [
              { type: 'recordOutcome', params: ({ event }) => event.output },
              {
                type: 'stepFinished',
                params: ({ event }) => ({ stepId: event.output.report.stepId, outcome: event.output.report.outcome }),
              },
            ],
          },
          onError: { target: RunEnd.aborted, actions: 'keepError' },
        },
      },
      // Where the run goes after a step: decided at once (eventless), in this order.
      StepEnded: {
        always: [
          { guard: 'stepFailed', target: RunEnd.failed },
          { guard: 'isStopPoint', target: RunEnd.stopped },
          { guard: 'moreSteps', target: 'Step', actions: 'nextStep' },
          { target: RunEnd.succeeded },
        ],
      },
      [RunEnd.succeeded]: { type: 'final', output: { status: 'succeeded' } },
      [RunEnd.failed]: { type: 'final', output: { status: 'failed' } },
      [RunEnd.stopped]: { type: 'final', output: { status: 'stopped' } },
      [RunEnd.aborted]: { type: 'final', output: { status: 'aborted' } },
    },
    // The output of the final state reached says how the run ended; the context holds the rest.
    output: ({ context, event }): RunOutput => {
      const { status } = event.output as { status: RunOutput['status'] };
      if (status === 'aborted') return { status, steps: context.steps, error: context.error };
      return { status, steps: context.steps, failure: status === 'failed' ? context.failure : undefined };
    },
  });
}

export type RunMachine = ReturnType<typeof buildRunMachine>;
