import { assign, fromPromise, setup, type PromiseActorLogic } from 'xstate';
import type { PlannedStep } from '../plan/plan.js';
import { buildWalkMachine, type Timed, type WalkHooks, type WalkShape } from './walk-machine.js';

/**
 * The statecharts a rollback runs (issue 27): a pure function of the steps to undo, no I/O.
 *
 * The undo step machine: the lifecycle of undoing one step, whose final states are named after
 * the step's outcome.
 *
 *   pending ──(undo: none)──▶ notUndoable                 (reported, nothing run)
 *     ├──(its `do` was cut off)──▶ lookForEffect ──(no part of it there)──▶ notThere
 *     │                              └──(some of it is)──▶ askGuard
 *     └──▶ askGuard ──(the guard says why not)──▶ refused      (nothing run; the walk stops)
 *            └──▶ undo ──▶ verifyGone ──(its verification no longer holds)──▶ undone
 *                       └──(still holds, could not check, or an undo command failed)──▶ undoFailed
 *
 * An undo command that fails is not fatal by itself: the thing may already be gone (deleting a
 * namespace takes its links and routes with it); verifyGone decides, so "already gone" counts
 * as undone, like CNI's DEL. A step whose `do` was cut off (timeout, signal, crash) is undone
 * only when some of its effect is there: a same-named thing that fails the step's checks is not
 * the run's to delete. The guard (rollback's: engine/foreign-contents.ts) is asked before any
 * undo command runs, so that an undo that would delete what the run did not make never starts.
 *
 * The rollback machine is the walk (walk-machine.ts), over the steps in the order to undo them
 * (the reverse of the order they were done), with the undo step machine for each. It stops at
 * the first step whose effect is still there: the steps before it may depend on it.
 *
 *   Starting ─▶ Step ─▶ StepEnded ─┬─(undo failed)─▶ Failed
 *                                  ├─(more steps)─▶ Step (the next one)
 *                                  └─▶ RolledBack
 *   (interrupt, internal error) ─▶ Aborted
 *
 * What a phase does (run the undo commands, run the step's checks) and what the runner does once
 * a step is undone (journal it, print it) are supplied by the runner: undo-steps.ts.
 */

/** One step of a rollback, as it is reported. */
export interface UndoReport {
  stepId: string;
  /** not-undoable: the step says `undo: none`; nothing was run for it. */
  outcome: 'undone' | 'undo-failed' | 'not-undoable';
  durationMs: number;
  /**
   * For undo-failed: the check that still holds, or the undo command that failed; for
   * not-undoable: the runbook's reason.
   */
  stillHolds: string | undefined;
  /** A cut-off step whose effect was not there: its undo did not run. */
  notThere?: true;
  /** Its undo did not run: the guard refused it (`stillHolds` says why). */
  refused?: true;
}

/** How a rollback's steps ended. */
export interface UndoResult {
  status: 'rolled-back' | 'failed' | 'interrupted';
  steps: UndoReport[];
}

/** Final states of the rollback machine. */
export const RollbackEnd = { rolledBack: 'RolledBack', failed: 'Failed', aborted: 'Aborted' } as const;

/** What the undo step machine is told about its step. */
export interface UndoStepInput {
  stepId: string;
  /** `undo: none`: the runbook's reason why the step cannot be undone. */
  notUndoable: string | undefined;
  /** Its `do` was cut off: undone only if some of its effect is there. */
  cutOff: boolean;
}

export interface EffectInput {
  stepId: string;
  /** 'all': the effect is there when every check holds (after an undo); 'any': when one does (a cut-off `do`). */
  present: 'all' | 'any';
}
export interface EffectOutput extends Timed {
  /** Why the effect cannot be called gone (a check that holds, or one that could not run); undefined when gone. */
  stillThere: string | undefined;
}
export interface GuardOutput extends Timed {
  /** Why the step's undo must not run; undefined when it may. */
  refusal: string | undefined;
}
export interface UndoCommandsOutput extends Timed {
  /** The first undo command that failed for a reason other than "already gone". */
  failure: string | undefined;
}

interface UndoStepContext extends UndoStepInput {
  durationMs: number;
  /** An undo command that failed (not "already gone"). */
  undoFailure: string | undefined;
  /** Why the step is not undone: its effect still there, or its undo command failing. */
  stillHolds: string | undefined;
}

interface UndoStepOutput {
  report: UndoReport;
  failure: UndoReport | undefined;
}

/** Implementations of the undo machines' named actors and step hooks (see buildUndoMachine). */
export interface UndoImplementations {
  actors?: {
    lookForEffect?: PromiseActorLogic<EffectOutput, EffectInput>;
    /** Without one, every undo may run. */
    askGuard?: PromiseActorLogic<GuardOutput, { stepId: string }>;
    runUndo?: PromiseActorLogic<UndoCommandsOutput, { stepId: string }>;
  };
  actions?: WalkHooks<UndoStepInput, UndoReport, UndoReport>;
}

const notProvided = (name: string) => () => {
  throw new Error(`${name} was not provided to the rollback machine`);
};

/** The undo step machine: the same for every step. */
function buildUndoStepMachine(impl: UndoImplementations = {}) {
  return setup({
    types: {
      context: {} as UndoStepContext,
      input: {} as UndoStepInput,
      output: {} as UndoStepOutput,
    },
    actors: {
      lookForEffect: impl.actors?.lookForEffect ?? fromPromise<EffectOutput, EffectInput>(notProvided('lookForEffect')),
      askGuard:
        impl.actors?.askGuard ??
        fromPromise<GuardOutput, { stepId: string }>(() => Promise.resolve({ refusal: undefined, durationMs: 0 })),
      runUndo: impl.actors?.runUndo ?? fromPromise<UndoCommandsOutput, { stepId: string }>(notProvided('runUndo')),
    },
    actions: {
      noteTime: assign(({ context }, output: Timed) => ({ durationMs: context.durationMs + output.durationMs })),
      noteRefusal: assign(({ context }, output: GuardOutput) => ({
        durationMs: context.durationMs + output.durationMs,
        stillHolds: output.refusal,
      })),
      noteUndo: assign(({ context }, output: UndoCommandsOutput) => ({
        durationMs: context.durationMs + output.durationMs,
        undoFailure: output.failure,
      })),
      // An undo that failed for a reason other than "already gone" did not undo, whatever the
      // checks say: what it was to remove may be there still.
      noteStillThere: assign(({ context }, output: EffectOutput) => ({
        durationMs: context.durationMs + output.durationMs,
        stillHolds: output.stillThere ?? context.undoFailure,
      })),
    },
    guards: {
      notUndoable: ({ context }) => context.notUndoable !== undefined,
      cutOff: ({ context }) => context.cutOff,
      effectAbsent: (_args, output: EffectOutput) => output.stillThere === undefined,
      refused: (_args, output: GuardOutput) => output.refusal !== undefined,
      notUndone: ({ context }, output: EffectOutput) =>
        output.stillThere !== undefined || context.undoFailure !== undefined,
    },
  }).createMachine({
    id: 'undoStep',
    initial: 'pending',
    context: ({ input }) => ({ ...input, durationMs: 0, undoFailure: undefined, stillHolds: undefined }),
    states: {
      pending: {
        always: [
          { guard: 'notUndoable', target: 'notUndoable' },
          { guard: 'cutOff', target: 'lookForEffect' },
          { target: 'askGuard' },
        ],
      },
      lookForEffect: {
        invoke: {
          src: 'lookForEffect',
          input: ({ context }) => ({ stepId: context.stepId, present: 'any' as const }),
          onDone: [
            {
              guard: { type: 'effectAbsent', params: ({ event }) => event.output },
              target: 'notThere',
              actions: { type: 'noteTime', params: ({ event }) => event.output },
            },
            { target: 'askGuard', actions: { type: 'noteTime', params: ({ event }) => event.output } },
          ],
        },
      },
      askGuard: {
        invoke: {
          src: 'askGuard',
          input: ({ context }) => ({ stepId: context.stepId }),
          onDone: [
            {
              guard: { type: 'refused', params: ({ event }) => event.output },
              target: 'refused',
              actions: { type: 'noteRefusal', params: ({ event }) => event.output },
            },
            { target: 'undo', actions: { type: 'noteTime', params: ({ event }) => event.output } },
          ],
        },
      },
      undo: {
        invoke: {
          src: 'runUndo',
          input: ({ context }) => ({ stepId: context.stepId }),
          onDone: { target: 'verifyGone', actions: { type: 'noteUndo', params: ({ event }) => event.output } },
        },
      },
      verifyGone: {
        invoke: {
          src: 'lookForEffect',
          input: ({ context }) => ({ stepId: context.stepId, present: 'all' as const }),
          onDone: [
            {
              guard: { type: 'notUndone', params: ({ event }) => event.output },
              target: 'undoFailed',
              actions: { type: 'noteStillThere', params: ({ event }) => event.output },
            },
            { target: 'undone', actions: { type: 'noteStillThere', params: ({ event }) => event.output } },
          ],
        },
      },
      notUndoable: { type: 'final', output: { outcome: 'not-undoable' } },
      notThere: { type: 'final', output: { outcome: 'undone', notThere: true } },
      undone: { type: 'final', output: { outcome: 'undone' } },
      undoFailed: { type: 'final', output: { outcome: 'undo-failed' } },
      refused: { type: 'final', output: { outcome: 'undo-failed', refused: true } },
    },
    output: ({ context, event }): UndoStepOutput => {
      const { outcome, notThere, refused } = event.output as {
        outcome: UndoReport['outcome'];
        notThere?: true;
        refused?: true;
      };
      const report: UndoReport =
        outcome === 'not-undoable'
          ? { stepId: context.stepId, outcome, durationMs: 0, stillHolds: context.notUndoable }
          : {
              stepId: context.stepId,
              outcome,
              durationMs: Math.round(context.durationMs),
              stillHolds: context.stillHolds,
              ...(notThere === true && { notThere }),
              ...(refused === true && { refused }),
            };
      return { report, failure: outcome === 'undo-failed' ? report : undefined };
    },
  });
}

/** The rollback's walk: it stops at the first step it could not undo. */
const rollbackShape: WalkShape<'rolled-back' | 'failed'> = {
  id: 'rollback',
  ends: { [RollbackEnd.rolledBack]: 'rolled-back', [RollbackEnd.failed]: 'failed' },
  whenEmpty: RollbackEnd.rolledBack,
  afterStep: [
    { guard: 'stepFailed', target: RollbackEnd.failed },
    { guard: 'moreSteps', target: 'Step' },
    { target: RollbackEnd.rolledBack },
  ],
};

/**
 * Builds the rollback machine for `steps`, given in the order to undo them. Pure: same steps,
 * same machine. `cutOff`: the steps whose `do` was cut off (RunHistory.cutOffSteps).
 */
export function buildUndoMachine(
  steps: readonly Pick<PlannedStep, 'id' | 'noUndo'>[],
  cutOff: ReadonlySet<string> = new Set(),
  implementations: UndoImplementations = {},
) {
  return buildWalkMachine(
    rollbackShape,
    steps.map((s): UndoStepInput => ({ stepId: s.id, notUndoable: s.noUndo, cutOff: cutOff.has(s.id) })),
    buildUndoStepMachine(implementations),
    (step) => step,
    implementations.actions,
  );
}
