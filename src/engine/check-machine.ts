import { assign, fromPromise, setup, type PromiseActorLogic } from 'xstate';
import type { Plan } from '../plan/plan.js';
import type {
  ChecksInput,
  ChecksOutput,
  ConditionOutput,
  ExportsOutput,
  FailedCheck,
  Finding,
  PhaseInput,
  ProbesOutput,
} from './machine.js';
import { importedValues } from './step-values.js';
import { buildWalkMachine, type WalkHooks, type WalkShape } from './walk-machine.js';

/**
 * The statecharts `runbook check` runs (issue 27): a pure function of the plan, no I/O.
 *
 * The check step machine: one step's verification against the live host, and when it does not
 * hold, its diagnosis. The phases are the run's own (phases.ts: the same `when:`, the same
 * checks retried the same way, the same probes, the same exports), so `check` and `run` never
 * disagree on what "holds" means.
 *
 *   pending ──(a value it uses was never exported)──▶ doesNotHold
 *     ├──(it has a `when:`)──▶ when ──(does not hold)──▶ skipped
 *     │                          ├──(could not be checked)──▶ doesNotHold
 *     │                          └──(holds)──▶ verify
 *     └──▶ verify ──(holds)──▶ verified ──▶ holds   (a step with `export:` reads its values first:
 *            │                                        exporting ──▶ holds, or doesNotHold)
 *            └──(does not hold)──▶ diagnosing ──▶ doesNotHold
 *
 * The check machine is the walk (walk-machine.ts) over every step of the plan, in order. A step
 * that does not hold does not stop it: the report shows all that holds and all that does not.
 * What a step exports is read live, as a run reads it once the step holds (`check` has no
 * journal to read it from), for the steps after it.
 *
 *   Starting ─▶ Step ─▶ StepEnded ─┬─(more steps)─▶ Step (the next one)
 *                                  ├─(a step did not hold)─▶ DoesNotHold
 *                                  └─▶ Holds
 *   (interrupt, internal error) ─▶ Aborted
 */

/** What `check` found for one step. */
export interface StepCheck {
  stepId: string;
  title: string;
  ok: boolean;
  /** The first verify check that did not hold (undefined when the step holds). */
  check: FailedCheck | undefined;
  /** What the probes found: the first matching probe, or none. */
  findings: Finding[];
  durationMs: number;
  /** Its `when:` does not hold (issue 28): not checked, and not failing. */
  skipped?: string | undefined;
}

/** Final states of the check machine. */
export const CheckEnd = { holds: 'Holds', doesNotHold: 'DoesNotHold', aborted: 'Aborted' } as const;

/** A step of the plan, as the check machine keeps it. */
interface CheckItem {
  stepId: string;
  title: string;
  /** The argv of its `when:`, when it has one. */
  when: readonly string[] | undefined;
  hasExports: boolean;
  /** The exported values it uses: name → the step that exports it. */
  imports: Readonly<Record<string, string>> | undefined;
}

/** What the check step machine is told about its step. */
export interface CheckStepInput {
  stepId: string;
  title: string;
  when: readonly string[] | undefined;
  hasExports: boolean;
  /** The values it uses that earlier steps exported. */
  values: Readonly<Record<string, string>>;
  /** Why it cannot be checked: a value it uses was never exported. */
  blocked: string | undefined;
}

interface CheckStepContext extends CheckStepInput {
  durationMs: number;
  check: FailedCheck | undefined;
  findings: Finding[];
  skipReason: string | undefined;
  exported: Readonly<Record<string, string>> | undefined;
}

interface CheckStepOutput {
  report: StepCheck;
  failure: StepCheck | undefined;
  exported: Readonly<Record<string, string>> | undefined;
  skipped: boolean;
}

/** Implementations of the check machines' named actors and step hooks (see buildCheckMachine). */
export interface CheckImplementations {
  actors?: {
    runCondition?: PromiseActorLogic<ConditionOutput, PhaseInput>;
    runChecks?: PromiseActorLogic<ChecksOutput, ChecksInput>;
    runProbes?: PromiseActorLogic<ProbesOutput, PhaseInput>;
    runExports?: PromiseActorLogic<ExportsOutput, PhaseInput>;
  };
  actions?: WalkHooks<CheckItem, StepCheck, StepCheck>;
}

const notProvided = (name: string) => () => {
  throw new Error(`${name} was not provided to the check machine`);
};

/** The check step machine: the same for every step. */
function buildCheckStepMachine(impl: CheckImplementations = {}) {
  return setup({
    types: {
      context: {} as CheckStepContext,
      input: {} as CheckStepInput,
      output: {} as CheckStepOutput,
    },
    actors: {
      runCondition: impl.actors?.runCondition ?? fromPromise<ConditionOutput, PhaseInput>(notProvided('runCondition')),
      runChecks: impl.actors?.runChecks ?? fromPromise<ChecksOutput, ChecksInput>(notProvided('runChecks')),
      runProbes: impl.actors?.runProbes ?? fromPromise<ProbesOutput, PhaseInput>(notProvided('runProbes')),
      runExports: impl.actors?.runExports ?? fromPromise<ExportsOutput, PhaseInput>(notProvided('runExports')),
    },
    actions: {
      noteBlocked: assign(({ context }) => ({
        check: {
          argv: [],
          reason: (context.blocked ?? '').replace(/^did not run/, 'could not be checked'),
          evidence: undefined,
        },
      })),
      noteCondition: assign(({ context }, output: ConditionOutput) => ({
        durationMs: context.durationMs + output.durationMs,
        ...(output.verdict === 'does-not-hold' && { skipReason: output.reason }),
        ...(output.verdict === 'could-not-check' && {
          check: {
            argv: context.when ?? [],
            reason: `its "when:" could not be checked: ${output.reason}`,
            evidence: undefined,
          },
        }),
      })),
      noteChecks: assign(({ context }, output: ChecksOutput) => ({
        durationMs: context.durationMs + output.durationMs,
        check: output.failed,
      })),
      noteFindings: assign(({ context }, output: ProbesOutput) => ({
        durationMs: context.durationMs + output.durationMs,
        findings: output.findings,
      })),
      noteExports: assign(({ context }, output: ExportsOutput) => ({
        durationMs: context.durationMs + output.durationMs,
        exported: output.values,
        check: output.failed,
      })),
    },
    guards: {
      blocked: ({ context }) => context.blocked !== undefined,
      hasWhen: ({ context }) => context.when !== undefined,
      hasExports: ({ context }) => context.hasExports,
      conditionHolds: (_args, output: ConditionOutput) => output.verdict === 'holds',
      conditionFalse: (_args, output: ConditionOutput) => output.verdict === 'does-not-hold',
      checksPassed: (_args, output: ChecksOutput) => output.failed === undefined,
      exportFailed: (_args, output: ExportsOutput) => output.failed !== undefined,
    },
  }).createMachine({
    id: 'checkStep',
    initial: 'pending',
    context: ({ input }) => ({
      ...input,
      durationMs: 0,
      check: undefined,
      findings: [],
      skipReason: undefined,
      exported: undefined,
    }),
    states: {
      pending: {
        always: [
          { guard: 'blocked', target: 'doesNotHold', actions: 'noteBlocked' },
          { guard: 'hasWhen', target: 'when' },
          { target: 'verify' },
        ],
      },
      when: {
        invoke: {
          src: 'runCondition',
          input: ({ context }) => ({ stepId: context.stepId, values: context.values }),
          onDone: [
            {
              guard: { type: 'conditionHolds', params: ({ event }) => event.output },
              target: 'verify',
              actions: { type: 'noteCondition', params: ({ event }) => event.output },
            },
            {
              guard: { type: 'conditionFalse', params: ({ event }) => event.output },
              target: 'skipped',
              actions: { type: 'noteCondition', params: ({ event }) => event.output },
            },
            { target: 'doesNotHold', actions: { type: 'noteCondition', params: ({ event }) => event.output } },
          ],
        },
      },
      verify: {
        invoke: {
          src: 'runChecks',
          input: ({ context }) => ({ stepId: context.stepId, phase: 'verify' as const, values: context.values }),
          onDone: [
            {
              guard: { type: 'checksPassed', params: ({ event }) => event.output },
              target: 'verified',
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
          onDone: { target: 'doesNotHold', actions: { type: 'noteFindings', params: ({ event }) => event.output } },
        },
      },
      // It holds: what it exports is read for the steps after it (issue 28).
      verified: {
        always: [{ guard: 'hasExports', target: 'exporting' }, { target: 'holds' }],
      },
      exporting: {
        invoke: {
          src: 'runExports',
          input: ({ context }) => ({ stepId: context.stepId, values: context.values }),
          onDone: [
            {
              guard: { type: 'exportFailed', params: ({ event }) => event.output },
              target: 'doesNotHold',
              actions: { type: 'noteExports', params: ({ event }) => event.output },
            },
            { target: 'holds', actions: { type: 'noteExports', params: ({ event }) => event.output } },
          ],
        },
      },
      // Named after the outcome `check` prints for the step (as TAP: ok, not ok).
      holds: { type: 'final', output: { outcome: 'ok' } },
      skipped: { type: 'final', output: { outcome: 'skipped' } },
      doesNotHold: { type: 'final', output: { outcome: 'not-ok' } },
    },
    output: ({ context, event }): CheckStepOutput => {
      const { outcome } = event.output as { outcome: 'ok' | 'skipped' | 'not-ok' };
      const report: StepCheck = {
        stepId: context.stepId,
        title: context.title,
        ok: outcome !== 'not-ok',
        check: context.check,
        findings: context.findings,
        durationMs: Math.round(context.durationMs),
        ...(context.skipReason !== undefined && { skipped: context.skipReason }),
      };
      return {
        report,
        failure: outcome === 'not-ok' ? report : undefined,
        exported: context.exported,
        skipped: outcome === 'skipped',
      };
    },
  });
}

/** The check's walk: every step, whatever the ones before showed. */
const checkShape: WalkShape<'ok' | 'not-ok'> = {
  id: 'check',
  ends: { [CheckEnd.holds]: 'ok', [CheckEnd.doesNotHold]: 'not-ok' },
  whenEmpty: CheckEnd.holds,
  afterStep: [
    { guard: 'moreSteps', target: 'Step' },
    { guard: 'stepFailed', target: CheckEnd.doesNotHold },
    { target: CheckEnd.holds },
  ],
};

/** Builds the check machine for a plan. Pure: same plan, same machine. */
export function buildCheckMachine(plan: Pick<Plan, 'steps'>, implementations: CheckImplementations = {}) {
  return buildWalkMachine(
    checkShape,
    plan.steps.map((s): CheckItem => ({
      stepId: s.id,
      title: s.title,
      when: s.when?.argv,
      hasExports: (s.export?.length ?? 0) > 0,
      imports: s.imports,
    })),
    buildCheckStepMachine(implementations),
    ({ imports, ...step }, context): CheckStepInput => {
      const found = importedValues({ id: step.stepId, imports }, context.exported, context.skippedSteps);
      return {
        ...step,
        values: 'values' in found ? found.values : {},
        blocked: 'missing' in found ? found.missing : undefined,
      };
    },
    implementations.actions,
  );
}
