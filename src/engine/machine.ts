import { assign, fromPromise, setup, type PromiseActorLogic } from 'xstate';
import type { StepOutcome } from '../journal/entries.js';
import type { Plan } from '../plan/plan.js';
import { importedValues } from './step-values.js';

/**
 * Builds the statecharts the engine runs from a plan: a pure function, no I/O. There are two,
 * and each is written once, whatever the size of the plan:
 *
 * The step machine: the lifecycle of one step, whose final states are named after the step's
 * outcome.
 *
 *   pending ──(finished in an earlier attempt)──▶ skipped
 *     ├──(a value it uses was never exported)──▶ failed
 *     ├──(it has a `when:`)──▶ when ──(does not hold)──▶ skipped
 *     └──▶ check ──(holds)──▶ ok                       (already satisfied: nothing done)
 *            └──(does not hold)──▶ do ──▶ verify ──(holds)──▶ changed
 *                                           └──(does not hold)──▶ diagnosing ──▶ failed
 *   (a step with `export:` goes through exporting before ok or changed: its values are read)
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
 *                                  ├─(a step failed)─▶ Failed
 *                                  └─▶ Verifying ─▶ Succeeded | Failed | Stopped (--until)
 *   (a phase throws: interrupt, internal error) ─▶ Aborted
 *
 * Verifying is the final pass (issue 28): every step a later step could have undone is verified
 * again, checks only; one that no longer holds fails the run, naming the steps that could have
 * undone it.
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
  /** For a step skipped by its `when:` (issue 28): why. Absent for one finished earlier. */
  skipReason?: string | undefined;
}

/** The step a run failed at: the check that did not hold and what the probes found. */
export interface StepFailure {
  stepId: string;
  title: string;
  check: FailedCheck | undefined;
  findings: Finding[];
  /**
   * Found by the final pass (issue 28): the step held when it ended, and no longer does; these
   * later steps changed the host since (one of them undid it), in order.
   */
  undoneBy?: ReadonlyArray<{ stepId: string; title: string }> | undefined;
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
  /** The values earlier steps exported that this step uses (issue 28), by name. */
  values: Readonly<Record<string, string>>;
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
/** A step's `when:` (issue 28): whether it holds, or whether it could not even be checked. */
export interface ConditionOutput extends Timed {
  verdict: 'holds' | 'does-not-hold' | 'could-not-check';
  reason: string;
}
/** A step's exports (issue 28): the values read, or why one could not be. */
export interface ExportsOutput extends Timed {
  values: Readonly<Record<string, string>>;
  failed: FailedCheck | undefined;
}
/** What the final pass is given: the steps to consider, in order, and the values they use. */
export interface FinalPassInput {
  /** The steps that ran to ok or changed, in this attempt or an earlier one, in plan order. */
  stepIds: readonly string[];
  exported: ReadonlyMap<string, Readonly<Record<string, string>>>;
}
export interface FinalPassOutput {
  /** The first step that no longer holds, with what its probes found and who could have undone it. */
  failure: StepFailure | undefined;
}

export interface RunInput {
  /** Steps that an earlier attempt of this run finished (from the journal): not run again. */
  finishedSteps?: readonly string[];
  /** Of those, the ones skipped by their `when:` (issue 28). */
  skippedSteps?: readonly string[];
  /** The values earlier attempts exported (from the journal): step id → name → value. */
  exported?: ReadonlyMap<string, Readonly<Record<string, string>>>;
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
  /** It has a `when:` condition (issue 28). */
  hasWhen: boolean;
  /** It exports values to later steps (issue 28). */
  hasExports: boolean;
  /** The values it uses that earlier steps exported. */
  values: Readonly<Record<string, string>>;
  /** Why it cannot run: a value it uses was never exported (its step was skipped). */
  blocked: string | undefined;
}

/** The step machine's context: its input, and what the step has found so far. */
export interface StepContext extends StepInput {
  durationMs: number;
  /** Whether its `do` had a failing command (reported with its outcome). */
  doFailed: boolean;
  /** The last check that did not hold (check or verify phase). */
  check: FailedCheck | undefined;
  findings: Finding[];
  /** Whether `do` ran (so the step ends changed, not ok, after exporting). */
  didDo: boolean;
  /** Why its `when:` skipped it. */
  skipReason: string | undefined;
  /** The values it exported. */
  exported: Readonly<Record<string, string>> | undefined;
}

/** The step machine's output: the step's report, and its failure when it failed. */
export interface StepOutput {
  report: StepReport;
  failure: StepFailure | undefined;
  /** The values the step exported (issue 28), for the steps after it. */
  exported: Readonly<Record<string, string>> | undefined;
}

/** A step of the plan, as the run machine knows it. */
export interface PlanEntry {
  stepId: string;
  title: string;
  hasDo: boolean;
  hasWhen: boolean;
  hasExports: boolean;
  /** The exported values it uses: name → the step that exports it. */
  imports: Readonly<Record<string, string>> | undefined;
}

export interface RunContext {
  /** The plan's steps, in order, as the step machine is told about them. */
  plan: readonly PlanEntry[];
  finishedSteps: Readonly<Record<string, true>>;
  /** Steps skipped by their `when:`, in an earlier attempt or this one: they export nothing. */
  skippedSteps: Set<string>;
  /** What the steps have exported so far, this attempt and earlier ones (issue 28). */
  exported: Map<string, Readonly<Record<string, string>>>;
  stopAfter: string | undefined;
  /** Set when the run stops at `stopAfter` (after its final pass). */
  stopping: boolean;
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
    runCondition?: PromiseActorLogic<ConditionOutput, PhaseInput>;
    runExports?: PromiseActorLogic<ExportsOutput, PhaseInput>;
    /** The run machine's final pass (Verifying). */
    verifyAgain?: PromiseActorLogic<FinalPassOutput, FinalPassInput>;
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
      runCondition: impl.actors?.runCondition ?? fromPromise<ConditionOutput, PhaseInput>(notProvided('runCondition')),
      runExports: impl.actors?.runExports ?? fromPromise<ExportsOutput, PhaseInput>(notProvided('runExports')),
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
        didDo: true,
        check: output.refused ?? context.check,
      })),
      noteBlocked: assign(({ context }) => ({
        check: { argv: [], reason: context.blocked ?? '', evidence: undefined },
      })),
      noteCondition: assign(({ context }, output: ConditionOutput) => ({
        durationMs: addTime(context, output),
        ...(output.verdict === 'does-not-hold' && { skipReason: output.reason }),
        ...(output.verdict === 'could-not-check' && {
          check: { argv: [], reason: `its "when:" could not be checked: ${output.reason}`, evidence: undefined },
        }),
      })),
      noteExports: assign(({ context }, output: ExportsOutput) => ({
        durationMs: addTime(context, output),
        exported: output.values,
        check: output.failed ?? context.check,
      })),
      noteFindings: assign(({ context }, output: ProbesOutput) => ({
        durationMs: addTime(context, output),
        findings: output.findings,
      })),
    },
    guards: {
      finishedEarlier: ({ context }) => context.finishedEarlier,
      blocked: ({ context }) => context.blocked !== undefined,
      hasWhen: ({ context }) => context.hasWhen,
      hasDo: ({ context }) => context.hasDo,
      hasExports: ({ context }) => context.hasExports,
      didDo: ({ context }) => context.didDo,
      checksPassed: (_args, output: ChecksOutput) => output.failed === undefined,
      conditionHolds: (_args, output: ConditionOutput) => output.verdict === 'holds',
      conditionFalse: (_args, output: ConditionOutput) => output.verdict === 'does-not-hold',
      exportFailed: (_args, output: ExportsOutput) => output.failed !== undefined,
    },
  }).createMachine({
    id: 'step',
    initial: 'pending',
    context: ({ input }) => ({
      ...input,
      durationMs: 0,
      doFailed: false,
      didDo: false,
      check: undefined,
      findings: [],
      skipReason: undefined,
      exported: undefined,
    }),
    states: {
      pending: {
        always: [
          { guard: 'finishedEarlier', target: 'skipped' },
          // A value it uses was never exported (its step was skipped): nothing of it can run.
          { guard: 'blocked', target: 'failed', actions: 'noteBlocked' },
          { guard: 'hasWhen', target: 'when' },
          { target: 'check' },
        ],
      },
      when: {
        invoke: {
          src: 'runCondition',
          input: ({ context }) => ({ stepId: context.stepId, values: context.values }),
          onDone: [
            {
              guard: { type: 'conditionHolds', params: ({ event }) => event.output },
              target: 'check',
              actions: { type: 'noteCondition', params: ({ event }) => event.output },
            },
            {
              guard: { type: 'conditionFalse', params: ({ event }) => event.output },
              target: 'skipped',
              actions: { type: 'noteCondition', params: ({ event }) => event.output },
            },
            { target: 'failed', actions: { type: 'noteCondition', params: ({ event }) => event.output } },
          ],
        },
      },
      check: {
        invoke: {
          src: 'runChecks',
          input: ({ context }) => ({ stepId: context.stepId, phase: 'check' as const, values: context.values }),
          onDone: [
            {
              guard: { type: 'checksPassed', params: ({ event }) => event.output },
              target: 'holds',
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
          input: ({ context }) => ({ stepId: context.stepId, values: context.values }),
          onDone: { target: 'verify', actions: { type: 'noteDoResult', params: ({ event }) => event.output } },
        },
      },
      verify: {
        invoke: {
          src: 'runChecks',
          input: ({ context }) => ({ stepId: context.stepId, phase: 'verify' as const, values: context.values }),
          onDone: [
            {
              guard: { type: 'checksPassed', params: ({ event }) => event.output },
              target: 'holds',
              actions: { type: 'noteChecks', params: ({ event }) => event.output },
            },
            { target: 'diagnosing', actions: { type: 'noteChecks', params: ({ event }) => event.output } },
          ],
        },
      },
      diagnosing: {
        invoke: {
          src: 'runProbes',
          input: ({ context }) => ({ stepId: context.stepId, values: context.values }),
          onDone: { target: 'failed', actions: { type: 'noteFindings', params: ({ event }) => event.output } },
        },
      },
      // The step's effect holds: read what it exports, then end as ok (found in place) or changed.
      holds: {
        always: [{ guard: 'hasExports', target: 'exporting' }, { guard: 'didDo', target: 'changed' }, { target: 'ok' }],
      },
      exporting: {
        invoke: {
          src: 'runExports',
          input: ({ context }) => ({ stepId: context.stepId, values: context.values }),
          onDone: [
            {
              guard: { type: 'exportFailed', params: ({ event }) => event.output },
              target: 'failed',
              actions: { type: 'noteExports', params: ({ event }) => event.output },
            },
            {
              guard: 'didDo',
              target: 'changed',
              actions: { type: 'noteExports', params: ({ event }) => event.output },
            },
            { target: 'ok', actions: { type: 'noteExports', params: ({ event }) => event.output } },
          ],
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
        ...(context.skipReason !== undefined && { skipReason: context.skipReason }),
      };
      const failure =
        outcome === 'failed' ? { stepId, title, check: context.check, findings: context.findings } : undefined;
      return { report, failure, exported: context.exported };
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
    actors: {
      runStep: buildStepMachine(impl),
      verifyAgain: impl.actors?.verifyAgain ?? fromPromise<FinalPassOutput, FinalPassInput>(notProvided('verifyAgain')),
    },
    actions: {
      stepEntered: (args, params: StepParams) => impl.actions?.stepEntered?.(args, params),
      stepFinished: (args, params: StepFinishedParams) => impl.actions?.stepFinished?.(args, params),
      recordOutcome: assign(({ context }, output: StepOutput) => {
        // Appended in place rather than copied: copying the list of reports at every step
        // made the cost of a step grow with the length of the run. Nothing else holds the
        // array while the run is going (the output hands it over once the run has ended).
        // The same for what the steps export and which were skipped.
        context.steps.push(output.report);
        if (output.exported !== undefined) context.exported.set(output.report.stepId, output.exported);
        if (output.report.skipReason !== undefined) context.skippedSteps.add(output.report.stepId);
        return { failure: output.failure ?? context.failure };
      }),
      recordFinalPass: assign(({ context }, output: FinalPassOutput) => ({
        failure: output.failure ?? context.failure,
      })),
      markStopping: assign({ stopping: true }),
      nextStep: assign({ index: ({ context }) => context.index + 1 }),
      keepError: assign({ error: ({ event }) => (event as { error?: unknown }).error }),
    },
    guards: {
      planIsEmpty: ({ context }) => context.plan.length === 0,
      stepFailed: ({ context }) => context.failure !== undefined,
      noLongerHolds: (_args, output: FinalPassOutput) => output.failure !== undefined,
      stopping: ({ context }) => context.stopping,
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
      plan: plan.steps.map((s) => ({
        stepId: s.id,
        title: s.title,
        hasDo: s.do.length > 0,
        hasWhen: s.when !== undefined,
        hasExports: (s.export?.length ?? 0) > 0,
        imports: s.imports,
      })),
      finishedSteps: Object.fromEntries((input.finishedSteps ?? []).map((id) => [id, true as const])),
      skippedSteps: new Set(input.skippedSteps),
      exported: new Map(input.exported),
      stopAfter: input.stopAfter,
      stopping: false,
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
          input: ({ context }): StepInput => {
            const { imports, ...step } = context.plan[context.index]!;
            const finishedEarlier = context.finishedSteps[step.stepId] === true;
            const found = finishedEarlier
              ? { values: {} }
              : importedValues({ id: step.stepId, imports }, context.exported, context.skippedSteps);
            return {
              ...step,
              finishedEarlier,
              values: 'values' in found ? found.values : {},
              blocked: 'missing' in found ? found.missing : undefined,
            };
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
          { guard: 'isStopPoint', target: 'Verifying', actions: 'markStopping' },
          { guard: 'moreSteps', target: 'Step', actions: 'nextStep' },
          { target: 'Verifying' },
        ],
      },
      // The final pass: the steps done so far are verified again (issue 28).
      Verifying: {
        invoke: {
          src: 'verifyAgain',
          input: ({ context }): FinalPassInput => ({
            stepIds: context.plan
              .slice(0, context.index + 1)
              .map((s) => s.stepId)
              .filter((id) => !context.skippedSteps.has(id)),
            exported: context.exported,
          }),
          onDone: [
            {
              guard: { type: 'noLongerHolds', params: ({ event }) => event.output },
              target: RunEnd.failed,
              actions: { type: 'recordFinalPass', params: ({ event }) => event.output },
            },
            { guard: 'stopping', target: RunEnd.stopped },
            { target: RunEnd.succeeded },
          ],
          onError: { target: RunEnd.aborted, actions: 'keepError' },
        },
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
