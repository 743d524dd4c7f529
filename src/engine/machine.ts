import { assign, fromPromise, setup, type PromiseActorLogic } from 'xstate';
import type { StepOutcome } from '../journal/entries.js';
import type { Plan } from '../runbook/plan.js';

/**
 * Builds the statechart the engine runs from a plan: a pure function, no I/O.
 *
 *   run ─┬─ <step 1> ─ <step 2> ─ … ─ <step n> ─▶ Succeeded
 *        └─ (any step) ─▶ Failed | Stopped (--until) | Aborted (interrupt / internal error)
 *
 * Each step is a compound node:
 *
 *   entry ──(finished in an earlier attempt)──▶ skipped
 *     └──▶ check ──(holds)──▶ ok                       (already satisfied: nothing done)
 *            └──(does not hold)──▶ do ──▶ verify ──(holds)──▶ done      (changed)
 *                                           └──(does not hold)──▶ diagnosing ──▶ failed
 *
 * A step with no `do` (a pure verification, e.g. a ping) goes from a failed check straight to
 * diagnosing. `do` failing does not fail the step by itself: verify decides (the effect may be
 * present anyway, created by someone else).
 *
 * What a phase does (run commands, evaluate checks, run probes) and what the engine records on
 * entering and leaving a step are referenced *by name*; their implementations are supplied by
 * the runner with `machine.provide(...)`, so state-transition tests can supply fakes.
 */

/** Final states of the run. Capitalised so that they can never clash with a step id. */
export const RunEnd = { succeeded: 'Succeeded', failed: 'Failed', stopped: 'Stopped', aborted: 'Aborted' } as const;

export interface PhaseInput {
  stepId: string;
}
export interface ChecksOutput {
  passed: boolean;
}
export interface CommandsOutput {
  allSucceeded: boolean;
}
export interface ProbesOutput {
  findings: number;
}

export interface RunInput {
  /** Steps that an earlier attempt of this run finished (from the journal): not run again. */
  finishedSteps?: readonly string[];
  /** `--until`: stop after this step. */
  stopAfter?: string | undefined;
}

export interface RunContext {
  finishedSteps: Readonly<Record<string, true>>;
  stopAfter: string | undefined;
  /** Whether the current step's `do` had a failing command (reported with its outcome). */
  doFailed: boolean;
  failedStep: string | undefined;
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

/** Implementations of the machine's named actors and step hooks (see buildRunMachine). */
export interface RunImplementations {
  actors?: {
    runChecks?: PromiseActorLogic<ChecksOutput, PhaseInput & { phase: 'check' | 'verify' }>;
    runCommands?: PromiseActorLogic<CommandsOutput, PhaseInput>;
    runProbes?: PromiseActorLogic<ProbesOutput, PhaseInput>;
  };
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
    },
    actors: {
      runChecks:
        impl.actors?.runChecks ??
        fromPromise<ChecksOutput, PhaseInput & { phase: 'check' | 'verify' }>(notProvided('runChecks')),
      runCommands: impl.actors?.runCommands ?? fromPromise<CommandsOutput, PhaseInput>(notProvided('runCommands')),
      runProbes: impl.actors?.runProbes ?? fromPromise<ProbesOutput, PhaseInput>(notProvided('runProbes')),
    },
    actions: {
      stepEntered: (args, params: StepParams) => impl.actions?.stepEntered?.(args, params),
      stepFinished: (args, params: StepFinishedParams) => impl.actions?.stepFinished?.(args, params),
      noteDoResult: assign({ doFailed: (_args, params: { allSucceeded: boolean }) => !params.allSucceeded }),
      resetStep: assign({ doFailed: false }),
      markFailed: assign({ failedStep: (_args, params: StepParams) => params.stepId }),
      keepError: assign({ error: ({ event }) => (event as { error?: unknown }).error }),
    },
    guards: {
      finishedEarlier: ({ context }, params: StepParams) => context.finishedSteps[params.stepId] === true,
      checksPassed: (_args, params: ChecksOutput) => params.passed,
      isStopPoint: ({ context }, params: StepParams) => context.stopAfter === params.stepId,
      stepFailed: ({ context }, params: StepParams) => context.failedStep === params.stepId,
    },
  });
}

export const runMachineSetup = runMachineSetupWith();

/**
 * Builds the run machine for a plan. Pure: same plan, same machine. The runner passes its
 * implementations here rather than through `machine.provide()`, which would construct every
 * state node a second time: construction is a large part of the engine's cost per step.
 */
export function buildRunMachine(plan: Pick<Plan, 'runbook' | 'steps'>, implementations?: RunImplementations) {
  const stepIds = plan.steps.map((s) => s.id);
  const abort = { target: `#run.${RunEnd.aborted}`, actions: 'keepError' } as const;

  const stepStates = Object.fromEntries(
    plan.steps.map((step, index) => {
      const stepId = step.id;
      const next = stepIds[index + 1] ?? RunEnd.succeeded;
      const hasDo = step.do.length > 0;
      const finished = (outcome: StepOutcome) => ({ type: 'stepFinished', params: { stepId, outcome } }) as const;
      const node = {
        initial: 'entry',
        entry: [{ type: 'resetStep' }, { type: 'stepEntered', params: { stepId } }],
        states: {
          entry: {
            always: [
              { guard: { type: 'finishedEarlier', params: { stepId } }, target: 'skipped' },
              { target: 'check' },
            ],
          },
          check: {
            invoke: {
              src: 'runChecks',
              input: { stepId, phase: 'check' },
              onDone: [
                {
                  guard: {
                    type: 'checksPassed',
                    params: ({ event }: { event: { output: ChecksOutput } }) => event.output,
                  },
                  target: 'ok',
                },
                { target: hasDo ? 'do' : 'diagnosing' },
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
                  actions: {
                    type: 'noteDoResult',
                    params: ({ event }: { event: { output: CommandsOutput } }) => event.output,
                  },
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
                    guard: {
                      type: 'checksPassed',
                      params: ({ event }: { event: { output: ChecksOutput } }) => event.output,
                    },
                    target: 'done',
                  },
                  { target: 'diagnosing' },
                ],
                onError: abort,
              },
            },
          }),
          diagnosing: {
            invoke: { src: 'runProbes', input: { stepId }, onDone: 'failed', onError: abort },
          },
          skipped: { type: 'final', entry: finished('skipped') },
          ok: { type: 'final', entry: finished('ok') },
          ...(hasDo && {
            done: {
              type: 'final',
              entry: finished('changed'),
              // `undo: none`: shown by `runbook graph`; rollback reports the step and goes on.
              ...(step.noUndo !== undefined && { description: `not undoable: ${step.noUndo}` }),
            },
          }),
          failed: { type: 'final', entry: [finished('failed'), { type: 'markFailed', params: { stepId } }] },
        },
        onDone: [
          { guard: { type: 'stepFailed', params: { stepId } }, target: RunEnd.failed },
          { guard: { type: 'isStopPoint', params: { stepId } }, target: RunEnd.stopped },
          { target: next },
        ],
      };
      return [stepId, node];
    }),
  );

  const chosenSetup = implementations === undefined ? runMachineSetup : runMachineSetupWith(implementations);
  return chosenSetup.createMachine({
    id: 'run',
    initial: 'Starting',
    context: ({ input }) => ({
      finishedSteps: Object.fromEntries((input.finishedSteps ?? []).map((id) => [id, true as const])),
      stopAfter: input.stopAfter,
      doFailed: false,
      failedStep: undefined,
      error: undefined,
    }),
    states: {
      // The step nodes are generated, so their literal types cannot be checked against the
      // setup's names here; tests/engine cover every path through them instead.
      ...(stepStates as Record<string, never>),
      // The run waits for an explicit `start` event: while an actor is being started, xstate
      // runs the initial state's entry actions only after starting its invoked actors, which
      // would journal the first step's first command before the step itself.
      Starting: { on: { start: stepIds[0] ?? RunEnd.succeeded } },
      [RunEnd.succeeded]: { type: 'final' },
      [RunEnd.failed]: { type: 'final' },
      [RunEnd.stopped]: { type: 'final' },
      [RunEnd.aborted]: { type: 'final' },
    },
  });
}

export type RunMachine = ReturnType<typeof buildRunMachine>;
