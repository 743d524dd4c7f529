import { assign, fromPromise, setup, type PromiseActorLogic } from 'xstate';
import type { StepOutcome } from '../journal/entries.js';
import type { Plan } from '../runbook/plan.js';

/**
 * Builds the statechart the engine runs from a plan: a pure function, no I/O.
 *
 *   run ─┬─ <step 1> ─ <step 2> ─ … ─ <step n> ─▶ Succeeded
 *        └─ (any step) ─▶ Failed | Stopped (--until) | Aborted (interrupt / internal error)
 *
 * Each step is a compound node whose final states are named after the step's outcome:
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
 * The machine owns its result: each phase's actor returns what it found (a failed check,
 * whether a command failed, the findings, how long it took), which is assigned into the
 * context; each step's final state appends the step's report; and the machine's `output` is
 * the steps' result (`StepsResult` once the runner has read an Aborted run's error).
 *
 * What a phase does (run commands, evaluate checks, run probes) and what the runner does on
 * entering and finishing a step (journal it, print it) are referenced *by name*; their
 * implementations are supplied by the runner, so state-transition tests can supply fakes.
 */

/** Final states of the run. Capitalised so that they can never clash with a step id. */
export const RunEnd = { succeeded: 'Succeeded', failed: 'Failed', stopped: 'Stopped', aborted: 'Aborted' } as const;

/** A verification that did not hold, with what it showed. */
export interface FailedCheck {
  argv: readonly string[];
  reason: string;
  evidence: string | undefined;
  /** A `requires` check: `do` did not run because of it. */
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
  /** `do` did not run: a `requires` check did not hold. */
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

/** What the step in progress has found so far; reset when a step is entered. */
export interface StepInProgress {
  durationMs: number;
  /** Whether its `do` had a failing command (reported with its outcome). */
  doFailed: boolean;
  /** The last check that did not hold (check or verify phase). */
  check: FailedCheck | undefined;
  findings: Finding[];
}

export interface RunContext {
  finishedSteps: Readonly<Record<string, true>>;
  stopAfter: string | undefined;
  titles: Readonly<Record<string, string>>;
  step: StepInProgress;
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

const freshStep = (): StepInProgress => ({ durationMs: 0, doFailed: false, check: undefined, findings: [] });

type StepHook<P> = (args: { context: RunContext }, params: P) => void;

/** Implementations of the machine's named actors and step hooks (see buildRunMachine). */
export interface RunImplementations {
  actors?: {
    runChecks?: PromiseActorLogic<ChecksOutput, ChecksInput>;
    runCommands?: PromiseActorLogic<CommandsOutput, PhaseInput>;
    runProbes?: PromiseActorLogic<ProbesOutput, PhaseInput>;
  };
  /** Side effects on entering a step and once its report is in `context.steps` (its last). */
  actions?: { stepEntered?: StepHook<StepParams>; stepFinished?: StepHook<StepFinishedParams> };
}

/**
 * The machine's named pieces. Without implementations, the actors are placeholders that throw
 * and the hooks do nothing; tests may still swap any of them with `machine.provide(...)`.
 */
function runMachineSetupWith(impl: RunImplementations = {}) {
  return setup({
    types: {
      context: {} as RunContext,
      input: {} as RunInput,
      events: {} as { type: 'start' },
      output: {} as RunOutput,
    },
    actors: {
      runChecks: impl.actors?.runChecks ?? fromPromise<ChecksOutput, ChecksInput>(notProvided('runChecks')),
      runCommands: impl.actors?.runCommands ?? fromPromise<CommandsOutput, PhaseInput>(notProvided('runCommands')),
      runProbes: impl.actors?.runProbes ?? fromPromise<ProbesOutput, PhaseInput>(notProvided('runProbes')),
    },
    actions: {
      stepEntered: (args, params: StepParams) => impl.actions?.stepEntered?.(args, params),
      stepFinished: (args, params: StepFinishedParams) => impl.actions?.stepFinished?.(args, params),
      resetStep: assign({ step: freshStep }),
      noteChecks: assign({
        step: ({ context }, output: ChecksOutput) => ({
          ...context.step,
          durationMs: context.step.durationMs + output.durationMs,
          // A refused `do` is the story of this step's failure; verify failing after it is no news.
          check: context.step.check?.refused === true ? context.step.check : (output.failed ?? context.step.check),
        }),
      }),
      noteDoResult: assign({
        step: ({ context }, output: CommandsOutput) => ({
          ...context.step,
          durationMs: context.step.durationMs + output.durationMs,
          doFailed: !output.allSucceeded,
          check: output.refused ?? context.step.check,
        }),
      }),
      noteFindings: assign({
        step: ({ context }, output: ProbesOutput) => ({
          ...context.step,
          durationMs: context.step.durationMs + output.durationMs,
          findings: output.findings,
        }),
      }),
      recordOutcome: assign(({ context }, params: StepFinishedParams) => {
        const { stepId, outcome } = params;
        const title = context.titles[stepId] ?? '';
        // A refused `do` did not fail: it never ran.
        const refused = context.step.check?.refused === true;
        const report: StepReport = {
          stepId,
          title,
          outcome,
          durationMs: Math.round(context.step.durationMs),
          doFailed: context.step.doFailed && !refused,
          ...(refused ? { refused: true as const } : {}),
        };
        const failure: StepFailure | undefined =
          outcome === 'failed'
            ? { stepId, title, check: context.step.check, findings: context.step.findings }
            : context.failure;
        return { steps: [...context.steps, report], failure };
      }),
      keepError: assign({ error: ({ event }) => (event as { error?: unknown }).error }),
    },
    guards: {
      finishedEarlier: ({ context }, params: StepParams) => context.finishedSteps[params.stepId] === true,
      checksPassed: (_args, output: ChecksOutput) => output.failed === undefined,
      isStopPoint: ({ context }, params: StepParams) => context.stopAfter === params.stepId,
      stepFailed: ({ context }, params: StepParams) => context.failure?.stepId === params.stepId,
    },
  });
}

export const runMachineSetup = runMachineSetupWith();

/** A state node of the run machine, type-checked against the setup's actors, actions and guards. */
type RunStateNode = NonNullable<Parameters<typeof runMachineSetup.createMachine>[0]['states']>[string];

/**
 * Builds the run machine for a plan. Pure: same plan, same machine. The runner passes its
 * implementations here rather than through `machine.provide()`, which would construct every
 * state node a second time: construction is a large part of the engine's cost per step.
 */
export function buildRunMachine(plan: Pick<Plan, 'runbook' | 'steps'>, implementations?: RunImplementations) {
  const stepIds = plan.steps.map((s) => s.id);
  const abort = { target: `#run.${RunEnd.aborted}`, actions: 'keepError' } as const;

  const stepStates: Record<string, RunStateNode> = {};
  for (const [index, step] of plan.steps.entries()) {
    const stepId = step.id;
    const next = stepIds[index + 1] ?? RunEnd.succeeded;
    const hasDo = step.do.length > 0;
    const finished = (outcome: StepOutcome) =>
      [
        { type: 'recordOutcome', params: { stepId, outcome } },
        { type: 'stepFinished', params: { stepId, outcome } },
      ] as const;
    const checksPassed = {
      type: 'checksPassed',
      params: ({ event }: { event: { output: ChecksOutput } }) => event.output,
    } as const;
    const node: RunStateNode = {
      initial: 'pending',
      entry: [{ type: 'resetStep' }, { type: 'stepEntered', params: { stepId } }],
      states: {
        pending: {
          always: [{ guard: { type: 'finishedEarlier', params: { stepId } }, target: 'skipped' }, { target: 'check' }],
        },
        check: {
          invoke: {
            src: 'runChecks',
            input: { stepId, phase: 'check' },
            onDone: [
              {
                guard: checksPassed,
                target: 'ok',
                actions: { type: 'noteChecks', params: ({ event }) => event.output },
              },
              {
                target: hasDo ? 'do' : 'diagnosing',
                actions: { type: 'noteChecks', params: ({ event }) => event.output },
              },
            ],
            onError: abort,
          },
        },
        ...(hasDo && {
          do: {
            invoke: {
              src: 'runCommands',
              input: { stepId },
              onDone: {
                target: 'verify',
                actions: { type: 'noteDoResult', params: ({ event }) => event.output },
              },
              onError: abort,
            },
          },
          verify: {
            invoke: {
              src: 'runChecks',
              input: { stepId, phase: 'verify' },
              onDone: [
                {
                  guard: checksPassed,
                  target: 'changed',
                  actions: { type: 'noteChecks', params: ({ event }) => event.output },
                },
                { target: 'diagnosing', actions: { type: 'noteChecks', params: ({ event }) => event.output } },
              ],
              onError: abort,
            },
          },
        }),
        diagnosing: {
          invoke: {
            src: 'runProbes',
            input: { stepId },
            onDone: { target: 'failed', actions: { type: 'noteFindings', params: ({ event }) => event.output } },
            onError: abort,
          },
        },
        skipped: { type: 'final', entry: finished('skipped') },
        ok: { type: 'final', entry: finished('ok') },
        ...(hasDo && {
          changed: {
            type: 'final',
            entry: finished('changed'),
            // `undo: none`: shown by `runbook graph`; rollback reports the step and goes on.
            ...(step.noUndo !== undefined && { description: `not undoable: ${step.noUndo}` }),
          },
        }),
        failed: { type: 'final', entry: finished('failed') },
      },
      onDone: [
        { guard: { type: 'stepFailed', params: { stepId } }, target: RunEnd.failed },
        { guard: { type: 'isStopPoint', params: { stepId } }, target: RunEnd.stopped },
        { target: next },
      ],
    };
    stepStates[stepId] = node;
  }

  const chosenSetup = implementations === undefined ? runMachineSetup : runMachineSetupWith(implementations);
  return chosenSetup.createMachine({
    id: 'run',
    initial: 'Starting',
    context: ({ input }) => ({
      finishedSteps: Object.fromEntries((input.finishedSteps ?? []).map((id) => [id, true as const])),
      stopAfter: input.stopAfter,
      titles: Object.fromEntries(plan.steps.map((s) => [s.id, s.title])),
      step: freshStep(),
      steps: [],
      failure: undefined,
      error: undefined,
    }),
    states: {
      ...stepStates,
      // The run waits for an explicit `start` event: while an actor is being started, xstate
      // runs the initial state's entry actions only after starting its invoked actors, which
      // would journal the first step's first command before the step itself.
      Starting: { on: { start: stepIds[0] ?? RunEnd.succeeded } },
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
