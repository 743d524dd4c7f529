import { z } from 'zod';

/**
 * The runbook file format (runbooks/<name>.yaml), as a zod schema. Everything a runbook may
 * contain is declared here; docs/runbook-format.md explains it with single-container as example.
 */

/** A command is an argv array: no shell, ever. Each element may hold {{param}} placeholders. */
const Argv = z.array(z.string()).min(1, 'a command needs at least a program name');

/** Per-command timeout in seconds; the default keeps a ping from ever hanging a run. */
const TimeoutSeconds = z.number().positive().max(600);

/** A command as written: a bare argv array, or `{ run: argv, timeout: seconds }`. */
export const CommandSpec = z.union([Argv, z.strictObject({ run: Argv, timeout: TimeoutSeconds.optional() })]);

/**
 * What a command's result must show. Every field given must hold (they are ANDed).
 * `json` is a partial match on the parsed stdout (see engine/expectations.ts).
 */
export interface ExpectSpec {
  exit?: number | 'nonzero' | 'any' | undefined;
  output_contains?: string | undefined;
  output_matches?: string | undefined;
  json?: unknown;
  not?: ExpectSpec | undefined;
}
export const ExpectSpec: z.ZodType<ExpectSpec> = z.lazy(() =>
  z.strictObject({
    exit: z.union([z.number().int(), z.literal('nonzero'), z.literal('any')]).optional(),
    output_contains: z.string().optional(),
    output_matches: z.string().refine(isValidRegex, { message: 'not a valid regular expression' }).optional(),
    json: z.unknown().optional(),
    not: ExpectSpec.optional(),
  }),
);

/** A verification: a command plus what its result must show (default: exit status 0). */
export const CheckSpec = z.strictObject({
  run: Argv,
  timeout: TimeoutSeconds.optional(),
  expect: ExpectSpec.optional(),
});

/**
 * A diagnostic probe: a read-only command that, when its result matches `when`, reveals the
 * `cause` of a failed verification; `fix` says what would repair it.
 */
export const ProbeSpec = z.strictObject({
  run: Argv,
  timeout: TimeoutSeconds.optional(),
  when: ExpectSpec,
  cause: z.string().min(1),
  fix: z.string().optional(),
});

const StepId = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'step ids are lower-case letters, digits and dashes');

/** Names of values: parameters, loop variables, captures. */
const VarName = z
  .string()
  .regex(/^[a-z_][a-z0-9_]*$/, 'lower-case letters, digits and "_", starting with a letter or "_"');

export const StepSpec = z.strictObject({
  id: StepId,
  title: z.string().min(1),
  why: z.string().min(1),
  /**
   * Values read from the host just before `do` runs, journaled, and usable in `undo` as
   * {{name}}: how an undo restores what was there (say, the old ip_forward) instead of a guess.
   */
  capture: z.record(VarName, CommandSpec).default({}),
  /**
   * Checks that must hold before `do` may run: what makes `do` safe, such as "the link about to
   * be moved is the peer of the veth this runbook made" (issue 11). When one does not hold, `do`
   * does not run, and the step fails with its diagnosis.
   */
  requires: z.array(CheckSpec).default([]),
  do: z.array(CommandSpec).default([]),
  verify: z.array(CheckSpec).min(1, 'every step needs at least one verify check'),
  undo: z.array(CommandSpec).default([]),
  diagnose: z.array(ProbeSpec).default([]),
});

/** Repeats its steps once per value of `var` from `from` to `to` (inclusive); ids get "-<value>". */
export const LoopSpec = z.strictObject({
  foreach: z.strictObject({
    var: VarName,
    from: z.union([z.number().int(), z.string()]),
    to: z.union([z.number().int(), z.string()]),
  }),
  steps: z.array(StepSpec).min(1, 'a loop needs at least one step'),
});

/** Brings in every parameter and step of another runbook (a sibling file), in place. */
export const IncludeSpec = z.strictObject({
  include: z.string().regex(/^[A-Za-z0-9._-]+$/, 'the name of a runbook in the same directory'),
});

/** One entry of `steps:` — a step, a loop of steps, or an included runbook. */
export const StepItem = z.unknown().transform((item, ctx) => {
  const has = (key: string) => item !== null && typeof item === 'object' && key in item;
  const schema = has('include') ? IncludeSpec : has('foreach') ? LoopSpec : StepSpec;
  const parsed = (schema as z.ZodType<StepSpec | LoopSpec | IncludeSpec>).safeParse(item);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues)
    ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path as PropertyKey[] });
  return z.NEVER;
});

export const ParamType = z.enum(['name', 'interface', 'ipv4', 'ipv4-cidr', 'ipv4-network', 'integer']);
export type ParamType = z.infer<typeof ParamType>;

export const ParamSpec = z.strictObject({
  type: ParamType,
  default: z.union([z.string(), z.number()]).optional(),
  /** Used instead of `default` inside a runbook sandbox host (e.g. the stand-in internet address). */
  sandbox_default: z.union([z.string(), z.number()]).optional(),
  description: z.string().optional(),
  min: z.number().int().optional(),
  max: z.number().int().optional(),
});

export const RunbookSpec = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only'),
    description: z.string().min(1),
    parameters: z.record(z.string().regex(/^[a-z_][a-z0-9_]*$/), ParamSpec).default({}),
    steps: z.array(StepItem).min(1, 'a runbook needs at least one step'),
  })
  .superRefine((runbook, ctx) => {
    // Ids written in this file must be unique (ids a loop generates are checked when rendered).
    const seen = new Set<string>();
    runbook.steps.forEach((item, index) => {
      if (!('id' in item)) return;
      if (seen.has(item.id))
        ctx.addIssue({ code: 'custom', path: ['steps', index, 'id'], message: `duplicate step id "${item.id}"` });
      seen.add(item.id);
    });
    runbook.steps.forEach((item, index) => {
      const steps =
        'steps' in item
          ? item.steps.map((s, i) => [s, ['steps', index, 'steps', i]] as const)
          : 'id' in item
            ? [[item, ['steps', index]] as const]
            : [];
      for (const [step, path] of steps) {
        if (step.do.length > 0 && step.undo.length === 0) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'undo'],
            message: 'a step that changes the host (has "do") must say how to undo it',
          });
        }
      }
    });
  });

export type RunbookSpec = z.infer<typeof RunbookSpec>;
export type LoopSpec = z.infer<typeof LoopSpec>;
export type IncludeSpec = z.infer<typeof IncludeSpec>;
export type StepSpec = z.infer<typeof StepSpec>;
export type CommandSpec = z.infer<typeof CommandSpec>;
export type CheckSpec = z.infer<typeof CheckSpec>;
export type ProbeSpec = z.infer<typeof ProbeSpec>;
export type ParamSpec = z.infer<typeof ParamSpec>;

function isValidRegex(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}
