import {
  assign,
  createActor,
  setup,
  toPromise,
  type AnyStateMachine,
  type InputFrom,
  type OutputFrom,
  type StateMachine,
} from 'xstate';
import { InterruptedError } from './journaled-command.js';

/**
 * The walk: the statechart that takes a plan's steps in order for `rollback` (undo-machine.ts)
 * and `check` (check-machine.ts), built like the run's (machine.ts), issue 27. Each verb has its
 * own step machine (the lifecycle of one of its steps, whose final states are named after the
 * step's outcome); the walk around it has one shape:
 *
 *   Starting ─▶ Step ─▶ StepEnded ─┬─(more steps)─▶ Step (the next one)
 *                                  └─▶ the verb's ends (RolledBack, Holds, Failed, …)
 *   (a phase throws: interrupt, internal error) ─▶ Aborted
 *
 * In `Step` it invokes the step machine for the step at `index`; in `StepEnded` it decides at
 * once, in the order the verb gives, where the walk goes: a verb that stops at a failed step
 * (rollback) asks `stepFailed` first, one that goes on (check) asks `moreSteps` first. The plan
 * is data in the context, so the machine is the same size for 10 steps as for 10,000. The run's
 * machine has the same states, the same named hooks and the same output, plus what only a run
 * does: its final pass (Verifying) and `--until`; it is built on its own, in machine.ts.
 *
 * Shared by the three verbs:
 * - timing: each phase's actor returns how long it ran (`timed`), the step machine adds them up
 *   and its report carries the total;
 * - journaling and showing progress: the named actions `stepEntered` and `stepFinished`, which
 *   each verb's runner supplies (the journal entry of a run's step, of an undone step);
 * - interrupts and internal errors: an actor that throws ends the walk in Aborted with that very
 *   error, and `driveWalk` turns an interrupt into the status `interrupted`;
 * - the result: the machine's output (`status`, the step reports in order, the failure);
 * - the values steps export to later ones (issue 28), and the steps their `when:` skipped.
 */

/** What the walk needs of a step of its plan: its id, and what its step machine is told. */
export interface WalkItem {
  stepId: string;
}

/** What a phase's actor returns, besides its own outcome: how long it ran (`timed`). */
export interface Timed {
  durationMs: number;
}

/** Runs one phase of a step and says how long it took: the timing every walk reports. */
export async function timed<T>(work: () => Promise<T>): Promise<T & Timed> {
  const started = performance.now();
  const outcome = await work();
  return { ...outcome, durationMs: performance.now() - started };
}

/** What every step machine outputs: the step's report, and its failure when it failed. */
export interface StepOutputOf<Report, Failure> {
  report: Report;
  failure: Failure | undefined;
  /** The values the step exported (issue 28), for the steps after it. */
  exported?: Readonly<Record<string, string>> | undefined;
  /** Its `when:` did not hold: it exported nothing, and a step using its values cannot run. */
  skipped?: boolean;
}

export interface WalkInput {
  /** Steps that an earlier attempt finished (a resumed run): their step machine skips them. */
  finishedSteps?: readonly string[];
  /** `run --until`: stop after this step. */
  stopAfter?: string | undefined;
}

export interface WalkContext<Item extends WalkItem, Report, Failure> {
  /** The plan's steps, in order, as their step machine is told about them. */
  plan: readonly Item[];
  finishedSteps: Readonly<Record<string, true>>;
  stopAfter: string | undefined;
  /** What the steps have exported so far (issue 28): step id → name → value. */
  exported: Map<string, Readonly<Record<string, string>>>;
  /** Steps skipped by their `when:`: they export nothing. */
  skippedSteps: Set<string>;
  /** The step in progress (in `Step`), or the one that just ended (in `StepEnded`). */
  index: number;
  /** Every finished step's report, in order: the output's `steps`. */
  steps: Report[];
  /** The last step that failed. */
  failure: Failure | undefined;
  error: unknown;
}

/** The walk's output: how it ended, or how far it got before an actor threw. */
export type WalkOutput<Status extends string, Report, Failure> =
  | { status: Status; steps: Report[]; failure: Failure | undefined }
  | { status: 'aborted'; steps: Report[]; error: unknown };

/** Where the walk may go after a step, asked in the order a verb lists them. */
export type WalkGuard = 'stepFailed' | 'isStopPoint' | 'moreSteps';

/** What makes one verb's walk: its name, how it may end, and the order of its questions. */
export interface WalkShape<Status extends string> {
  id: string;
  /** Its final states (Aborted aside), named after how the walk ends, each with its status. */
  ends: Readonly<Record<string, Status>>;
  /** Where a walk over an empty plan goes. */
  whenEmpty: string;
  /** Where it goes after a step: the first whose guard holds; the last has none. */
  afterStep: ReadonlyArray<{ guard?: WalkGuard; target: string }>;
}

export interface StepParams {
  stepId: string;
}

type StepHook<Item extends WalkItem, Report, Failure> = (
  args: { context: WalkContext<Item, Report, Failure> },
  params: StepParams,
) => void;

/** The runner's side effects on entering a step and once its report is in `context.steps` (its last). */
export interface WalkHooks<Item extends WalkItem, Report, Failure> {
  stepEntered?: StepHook<Item, Report, Failure>;
  stepFinished?: StepHook<Item, Report, Failure>;
}

/**
 * A step machine, as the walk invokes it: told about its step (`StepInput`), it outputs the
 * step's report and failure. Only its input and output matter to the walk; the rest of its
 * type (context, states, actors) is its own.
 */
export type StepMachine<StepInput, Report, Failure> = StateMachine<
  /* eslint-disable @typescript-eslint/no-explicit-any -- the step machine's own types */
  any,
  any,
  any,
  any,
  any,
  any,
  any,
  any,
  any,
  StepInput,
  StepOutputOf<Report, Failure>,
  any,
  any,
  any,
  any
  /* eslint-enable @typescript-eslint/no-explicit-any */
>;

/** Final state of every walk whose actor threw. */
export const aborted = 'Aborted';

/**
 * Builds a verb's walk over `plan`: pure, the same machine for the same plan. The step machine
 * is passed built, with its implementations (a machine's `provide()` would not reach the actors
 * of the machine it invokes).
 */
export function buildWalkMachine<
  Item extends WalkItem,
  StepInput extends WalkItem,
  Report extends WalkItem,
  Failure,
  Status extends string,
>(
  shape: WalkShape<Status>,
  plan: readonly Item[],
  stepMachine: StepMachine<StepInput, Report, Failure>,
  stepInput: (item: Item, context: WalkContext<Item, Report, Failure>) => StepInput,
  hooks: WalkHooks<Item, Report, Failure> = {},
) {
  type Context = WalkContext<Item, Report, Failure>;
  type Output = WalkOutput<Status, Report, Failure>;
  const stepIdAt = (context: Context): string => context.plan[context.index]?.stepId ?? '';
  const ends = Object.fromEntries(
    Object.entries(shape.ends).map(([name, status]) => [name, { type: 'final' as const, output: { status } }]),
  );
  return setup({
    types: {
      context: {} as Context,
      input: {} as WalkInput,
      events: {} as { type: 'start' },
      output: {} as Output,
    },
    // Typed by what the walk knows of every step's input (its id): xstate's types cannot check
    // an input of a type still to be chosen, and the parameter's type has checked it already.
    actors: { runStep: stepMachine as unknown as StepMachine<WalkItem, Report, Failure> },
    actions: {
      stepEntered: (args, params: StepParams) => hooks.stepEntered?.(args, params),
      stepFinished: (args, params: StepParams) => hooks.stepFinished?.(args, params),
      recordOutcome: assign(({ context }, output: StepOutputOf<Report, Failure>) => {
        // Appended in place rather than copied: copying the list of reports at every step
        // made the cost of a step grow with the length of the walk. Nothing else holds the
        // array while the walk is going (the output hands it over once it has ended).
        // The same for what the steps export and which were skipped.
        context.steps.push(output.report);
        if (output.exported !== undefined) context.exported.set(output.report.stepId, output.exported);
        if (output.skipped === true) context.skippedSteps.add(output.report.stepId);
        return { failure: output.failure ?? context.failure };
      }),
      nextStep: assign({ index: ({ context }) => context.index + 1 }),
      keepError: assign({ error: ({ event }) => (event as { error?: unknown }).error }),
    },
    guards: {
      planIsEmpty: ({ context }) => context.plan.length === 0,
      // The last step failed, or (for a walk that goes on: check) one of them did.
      stepFailed: ({ context }) => context.failure !== undefined,
      isStopPoint: ({ context }) => context.stopAfter === stepIdAt(context),
      moreSteps: ({ context }) => context.index + 1 < context.plan.length,
    },
  }).createMachine({
    id: shape.id,
    initial: 'Starting',
    context: ({ input }) => ({
      plan,
      finishedSteps: Object.fromEntries((input.finishedSteps ?? []).map((id) => [id, true as const])),
      stopAfter: input.stopAfter,
      exported: new Map(),
      skippedSteps: new Set(),
      index: 0,
      steps: [],
      failure: undefined,
      error: undefined,
    }),
    states: {
      // The walk waits for an explicit `start` event: while an actor is being started, xstate
      // runs the initial state's entry actions only after starting its invoked actors, which
      // would journal the first step's first command before the step itself.
      Starting: {
        on: { start: [{ guard: 'planIsEmpty', target: shape.whenEmpty }, { target: 'Step' }] },
      },
      Step: {
        // The entry action runs before the step machine starts: a run's step is journaled as
        // entered before its first command.
        entry: { type: 'stepEntered', params: ({ context }) => ({ stepId: stepIdAt(context) }) },
        invoke: {
          src: 'runStep',
          input: ({ context }) => stepInput(context.plan[context.index]!, context),
          onDone: {
            target: 'StepEnded',
            actions: [
              { type: 'recordOutcome', params: ({ event }) => event.output },
              { type: 'stepFinished', params: ({ event }) => ({ stepId: event.output.report.stepId }) },
            ],
          },
          // No onError in the step machines: an actor that throws (an interrupt, a journal that
          // cannot be written) fails the step machine with that very error, and the walk ends
          // in Aborted with it.
          onError: { target: aborted, actions: 'keepError' },
        },
      },
      // Where the walk goes after a step: decided at once (eventless), in the verb's order.
      StepEnded: {
        always: shape.afterStep.map(({ guard, target }) =>
          target === 'Step'
            ? { ...(guard !== undefined && { guard }), target, actions: 'nextStep' as const }
            : { ...(guard !== undefined && { guard }), target },
        ),
      },
      ...ends,
      [aborted]: { type: 'final', output: { status: 'aborted' } },
    },
    // The output of the final state reached says how the walk ended; the context holds the rest.
    output: ({ context, event }): Output => {
      const { status } = event.output as { status: Status | 'aborted' };
      if (status === 'aborted') return { status: 'aborted', steps: context.steps, error: context.error };
      return { status: status as Status, steps: context.steps, failure: context.failure };
    },
  });
}

/** How a walk ended, once an interrupt is told apart from an internal error. */
export interface WalkResult<Status extends string, Report, Failure> {
  status: Status | 'interrupted';
  steps: Report[];
  failure: Failure | undefined;
}

/** What `driveWalk` returns for a machine whose output is `Output`: its end, or interrupted. */
export type Driven<Output> =
  | Exclude<Output, { status: 'aborted' }>
  | { status: 'interrupted'; steps: Output extends { steps: infer S } ? S : never; failure: undefined };

/**
 * Runs a walk (the run's machine too) to its end and returns its output. An interrupt
 * (SIGINT/SIGTERM, at a safe point between commands) ends it as `interrupted` with the steps
 * finished so far; any other error an actor threw is thrown again, for the verb to record.
 */
export async function driveWalk<Machine extends AnyStateMachine>(
  machine: Machine,
  input?: InputFrom<Machine>,
): Promise<Driven<OutputFrom<Machine>>> {
  const actor = createActor(machine as AnyStateMachine, { input: input ?? {} });
  const output = toPromise(actor);
  actor.start();
  actor.send({ type: 'start' });
  const result = (await output) as { status: string; steps: unknown; error?: unknown };
  if (result.status !== 'aborted') return result as Driven<OutputFrom<Machine>>;
  if (result.error instanceof InterruptedError)
    return { status: 'interrupted', steps: result.steps, failure: undefined } as Driven<OutputFrom<Machine>>;
  throw result.error;
}
