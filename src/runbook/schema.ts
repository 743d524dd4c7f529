import { z } from 'zod';
import { specificIssues } from './yaml-errors.js';
import { linearRegexProblem } from './linear-regex.js';
import { stepIdPattern } from './step-id.js';
import type { ExpectSpec as PlannedExpectation } from '../plan/plan.js';

/**
 * The runbook file format (runbooks/<name>.yaml), as a zod schema. Everything a runbook may
 * contain is declared here; docs/runbook-format.md explains it with single-container as example.
 */

/** A command is an argv array: no shell, ever. Each element may hold {{param}} placeholders. */
const Argv = z
  .array(z.string({ error: (issue) => argvElementMessage(issue.input) }))
  .min(1, 'a command needs at least a program name');

/**
 * What YAML made of an argv element that is not a string, and how to write it: the traps of
 * `[sleep, 1]`, `["true"]` written as `[true]`, and `[ip, netns, add, {{name}}]` (a map).
 */
function argvElementMessage(input: unknown): string {
  if (typeof input === 'number' || typeof input === 'boolean')
    return `YAML read this as the ${typeof input} ${String(input)}, not as text: quote it as written ("1", "true", "0644")`;
  if (input !== null && typeof input === 'object')
    return 'YAML read {…} as a map: quote an element that holds a {{placeholder}} ("{{name}}")';
  return `expected text, got ${input === null ? 'nothing (null): quote an empty value ("")' : typeof input}`;
}

/** Per-command timeout in seconds; the default keeps a ping from ever hanging a run. */
const TimeoutSeconds = z.number().positive().max(600);

/** Exit statuses a command may end with and still count as done (`ok_exit: [0, 2]`). */
const OkExit = z.array(z.number().int().min(0).max(255)).min(1, 'ok_exit lists at least one exit status');

/**
 * A check that decides whether a command runs at all (`if` / `unless`): a read-only command and
 * what its result must show, like a verify check.
 */
export const ConditionSpec = z.strictObject({
  run: Argv,
  timeout: TimeoutSeconds.optional(),
  stdin: z.string().optional(),
  expect: z.lazy(() => ExpectSpec).optional(),
});

/**
 * A command as written: a bare argv array, or a map with `run` and options: `timeout`, `stdin`
 * (text passed on standard input, so files are written with tee/dd/install and no shell),
 * `ok_exit` (exit statuses that count as success) and one condition, `if` or `unless`.
 */
export const CommandSpec = z.union([
  Argv,
  z
    .strictObject({
      run: Argv,
      timeout: TimeoutSeconds.optional(),
      stdin: z.string().optional(),
      ok_exit: OkExit.optional(),
      if: ConditionSpec.optional(),
      unless: ConditionSpec.optional(),
    })
    .refine((c) => c.if === undefined || c.unless === undefined, {
      message: 'a command takes "if" or "unless", not both',
    }),
]);

/**
 * A capture: a command whose output (trimmed, unless `trim: false`) is kept for the step's `do`
 * and `undo`; `json` picks a field out of JSON output (`0.linkinfo.info_data.mode`), `regex`
 * the first group of a regular expression.
 */
export const CaptureSpec = z.union([
  Argv,
  z
    .strictObject({
      run: Argv,
      timeout: TimeoutSeconds.optional(),
      ok_exit: OkExit.optional(),
      json: z
        .string()
        .regex(/^[^.\s]+(\.[^.\s]+)*$/, 'a JSON path: keys and array indexes joined by ".", e.g. 0.address')
        .optional(),
      regex: z
        .string()
        .refine((source) => linearRegexProblem(source) === undefined, {
          message: 'not a valid regular expression (RE2 syntax: no backreferences or lookaround)',
        })
        .optional(),
      trim: z.boolean().optional(),
    })
    .refine((c) => c.json === undefined || c.regex === undefined, {
      message: 'a capture takes "json" or "regex", not both',
    }),
]);

/** Retrying a check: up to `retries` more attempts, `delay` seconds apart (a ping after a repair). */
const Retries = z.number().int().min(0).max(60);
const DelaySeconds = z.number().min(0).max(60);

/** What a command's result must show (its type is the plan's: src/plan/plan.ts). */
export type ExpectSpec = PlannedExpectation;
export const ExpectSpec: z.ZodType<ExpectSpec> = z.lazy(() =>
  z.strictObject({
    exit: z.union([z.number().int(), z.literal('nonzero'), z.literal('any')]).optional(),
    output_contains: z.string().optional(),
    output_matches: z
      .string()
      .refine((source) => linearRegexProblem(source) === undefined, {
        message: 'not a valid regular expression (RE2 syntax: no backreferences or lookaround)',
      })
      .optional(),
    json: z.unknown().optional(),
    not: ExpectSpec.optional(),
  }),
);

/**
 * A file a check or probe reads in-process instead of running a command (`read:`, issue 16):
 * what the kernel exposes as files (/proc/sys/…, /sys/…), or a directory's names (/run/netns).
 * An absolute path, which may hold {{param}} placeholders.
 */
const ReadPath = z
  .string()
  .regex(/^\/[^\0]*$/, 'an absolute path (starting with "/"), e.g. /proc/sys/net/ipv4/ip_forward');

/** A check or probe names a command (`run`) or a file (`read`): exactly one of them. */
const runOrRead = {
  check: (c: { run?: unknown; read?: unknown; stdin?: unknown }) =>
    (c.run === undefined) !== (c.read === undefined) && (c.read === undefined || c.stdin === undefined),
  message:
    'a check runs a command ("run: [...]") or reads a file ("read: /path"), one of them (and a read takes no stdin)',
};

/** What a check is made of: a command or a file read, and what its result must show. */
const checkShape = {
  run: Argv.optional(),
  read: ReadPath.optional(),
  timeout: TimeoutSeconds.optional(),
  /** Text on standard input: `cmp -s - FILE` checks a whole file's content exactly. */
  stdin: z.string().optional(),
  expect: ExpectSpec.optional(),
  retries: Retries.optional(),
  delay: DelaySeconds.optional(),
};

/** A verification: a command (or a file read) plus what its result must show (default: exit status 0). */
export const CheckSpec = z.strictObject(checkShape).refine(runOrRead.check, { message: runOrRead.message });

/**
 * A precondition (`requires`): a check, which with `preflight: true` is about the host as found
 * (issue 23) and is checked before the run changes anything, for every step that does not hold
 * yet (a step without `do`: always); `cause` and `fix` say what it means when it does not hold.
 */
export const RequireSpec = z
  .strictObject({
    ...checkShape,
    preflight: z.boolean().optional(),
    cause: z.string().min(1).optional(),
    fix: z.string().min(1).optional(),
  })
  .refine(runOrRead.check, { message: runOrRead.message })
  .refine((r) => r.preflight === true || (r.cause === undefined && r.fix === undefined), {
    message: '"cause" and "fix" belong to a precondition checked before the run ("preflight: true")',
  });

/**
 * A diagnostic probe: a read-only command (or a file read) that, when its result matches `when`, reveals the
 * `cause` of a failed verification; `fix` says what would repair it. `concerns` names the steps
 * whose failure it can explain (all steps when absent): a shared list then diagnoses each step
 * with its own cause, not with the first cause any step has (issue 18).
 */
export const ProbeSpec = z
  .strictObject({
    run: Argv.optional(),
    read: ReadPath.optional(),
    timeout: TimeoutSeconds.optional(),
    when: ExpectSpec,
    cause: z.string().min(1),
    fix: z.string().optional(),
    retries: Retries.optional(),
    delay: DelaySeconds.optional(),
    // Step ids as written; checked against the runbook's steps when it is read (load.ts).
    concerns: z.array(z.string().min(1)).min(1).optional(),
  })
  .refine(runOrRead.check, { message: runOrRead.message });

export { stepIdPattern };

/** As written: in a loop, an id may hold placeholders of the loop's variables ("route-{{i}}"). */
const StepId = z
  .string()
  .regex(
    /^(?:[a-z0-9-]|\{\{\s*[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*\s*\}\})+$/,
    'step ids are lower-case letters, digits and dashes (and, in a loop, {{placeholders}})',
  );

/** `undo: none` with the reason: a step whose change cannot be reversed (a cache flush). */
const NoUndo = z.strictObject({ none: z.string().min(1, 'say why the step cannot be undone') });

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
  capture: z.record(VarName, CaptureSpec).default({}),
  /**
   * Checks that must hold before `do` may run: what makes `do` safe, such as "the link about to
   * be moved is the peer of the veth this runbook made" (issue 11). When one does not hold, `do`
   * does not run, and the step fails with its diagnosis.
   */
  requires: z.array(RequireSpec).default([]),
  /**
   * Earlier steps whose object this step's `do` changes in a way its `undo` cannot put back
   * (moving the container end of a veth pair: undoing the move deletes the pair). `do` runs
   * only when this run created that object: a matching object found in place before the run
   * (the earlier step was "ok", adopted) is left exactly as it is, and this step fails with the
   * reason (issue 11). Ids as written: in a loop, the same loop pass's step.
   */
  only_if_created_by: z.array(StepId).optional(),
  /**
   * A condition on the whole step (issue 28), a check like a command's `if`: when it does not
   * hold, the step is skipped (journaled with the reason) and nothing of it runs.
   */
  when: ConditionSpec.optional(),
  do: z.array(CommandSpec).default([]),
  verify: z.array(CheckSpec).min(1, 'every step needs at least one verify check'),
  undo: z.union([z.array(CommandSpec), NoUndo]).default([]),
  diagnose: z.array(ProbeSpec).default([]),
  /**
   * Values handed on to later steps (issue 28): read from the host once the step holds (found
   * in place or just done), journaled, and usable as {{name}} in the later steps' commands,
   * checks and probes. Same forms as `capture`; read-only.
   */
  export: z.record(VarName, CaptureSpec).optional(),
});

/**
 * Repeats its steps once per value of `var`: each whole number from `from` to `to` (inclusive),
 * or each item of `in` (a literal list, or a string such as "{{names}}" naming a list
 * parameter); `index` names the item's position (1, 2, …). Ids get "-<value>" (numbers) or
 * "-<index>" (lists) unless they hold placeholders of their own. Loops may nest.
 */
export interface LoopSpec {
  foreach: {
    var: string;
    from?: number | string | undefined;
    to?: number | string | undefined;
    in?: LoopIn | undefined;
    index?: string | undefined;
  };
  steps: Array<StepSpec | LoopSpec>;
}
/**
 * What a loop walks (issue 28 adds the last two forms): a YAML list (items may be records, maps
 * of text), a string naming a list parameter ("{{subnets}}"), or a map from field names to lists
 * walked together, item by item, as records ({ name: "{{names}}", mac: "{{macs}}" }).
 */
export type LoopIn =
  Array<string | number | Record<string, string | number>> | string | Record<string, string | Array<string | number>>;
const LoopInSpec = z.union([
  z.array(z.union([z.string(), z.number(), z.record(VarName, z.union([z.string(), z.number()]))])),
  z.string(),
  z.record(VarName, z.union([z.string(), z.array(z.union([z.string(), z.number()]))])),
]);

/** `foreach`: a range (`from`, `to`) or the items of a list (`in`); shared by loops and constraints. */
const Foreach = z
  .strictObject({
    var: VarName,
    from: z.union([z.number().int(), z.string()]).optional(),
    to: z.union([z.number().int(), z.string()]).optional(),
    in: LoopInSpec.optional(),
    index: VarName.optional(),
  })
  .refine(
    (f) =>
      f.in === undefined ? f.from !== undefined && f.to !== undefined : f.from === undefined && f.to === undefined,
    {
      message: 'a loop takes either "from" and "to", or "in"',
    },
  );

export const LoopSpec: z.ZodType<LoopSpec> = z.lazy(() =>
  z.strictObject({
    foreach: Foreach,
    steps: z.array(LoopItem).min(1, 'a loop needs at least one step'),
  }),
);

/** An entry of a loop's `steps`: a step or a nested loop (no include). */
const LoopItem: z.ZodType<StepSpec | LoopSpec> = z.unknown().transform((item, ctx) => {
  const isLoop = item !== null && typeof item === 'object' && 'foreach' in item;
  const parsed = (isLoop ? LoopSpec : StepSpec).safeParse(item);
  if (parsed.success) return parsed.data as StepSpec | LoopSpec;
  // Kept as they are (a union's deepest branch, code and all), as at the top level: inside a
  // loop too, `[ip, -4, …]` is told to quote -4, not just "Invalid input".
  for (const issue of parsed.error.issues.flatMap(specificIssues))
    ctx.addIssue({ ...issue, path: issue.path as PropertyKey[] } as never);
  return z.NEVER;
}) as unknown as z.ZodType<StepSpec | LoopSpec>;

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
  // Kept as they are (a union's deepest branch, code and all), for specific messages.
  for (const issue of parsed.error.issues.flatMap(specificIssues))
    ctx.addIssue({ ...issue, path: issue.path as PropertyKey[] } as never);
  return z.NEVER;
});

/**
 * A fact about the parameters, checked before anything runs: `address` (rendered, once per
 * value of `foreach` when given) must be a usable host address of the network `host_of` (not
 * its network or broadcast address), and none of the `not` addresses (issue 11).
 */
export const ConstraintSpec = z.strictObject({
  // The same `foreach` as a loop of steps: a range, or `in:` a list (issue 28).
  foreach: Foreach.optional(),
  address: z.string().min(1),
  host_of: z.string().min(1),
  not: z.array(z.string()).default([]),
  /** What the address is for, in messages: "the address of container{{n}}". */
  what: z.string().optional(),
});
export type ConstraintSpec = z.infer<typeof ConstraintSpec>;

export const ParamType = z.enum([
  'name',
  'interface',
  'ipv4',
  'ipv4-cidr',
  'ipv4-network',
  'integer',
  // Issue 12: see param-types.ts.
  'string',
  'path',
  'enum',
  'mac',
  'list',
]);
export type ParamType = z.infer<typeof ParamType>;

/** A default as written: a string or number, or for a `list` a YAML list of them (of maps, for records). */
const ParamDefault = z.union([
  z.string(),
  z.number(),
  z.array(z.union([z.string(), z.number(), z.record(z.string(), z.union([z.string(), z.number()]))])),
]);

/** A field of a record (issue 28): a parameter spec of one value, with an optional default. */
export const FieldSpec = z.strictObject({
  type: ParamType.exclude(['list']),
  default: z.union([z.string(), z.number()]).optional(),
  description: z.string().optional(),
  min: z.number().int().optional(),
  max: z.number().int().optional(),
  pattern: z.string().optional(),
  min_length: z.number().int().min(0).optional(),
  max_length: z.number().int().min(1).optional(),
  values: z.array(z.string()).min(1).optional(),
});
export type FieldSpec = z.infer<typeof FieldSpec>;

export const ParamSpec = z
  .strictObject({
    type: ParamType,
    default: ParamDefault.optional(),
    /** Used instead of `default` inside a runbook sandbox host (e.g. the stand-in internet address). */
    sandbox_default: ParamDefault.optional(),
    description: z.string().optional(),
    min: z.number().int().optional(),
    max: z.number().int().optional(),
    // Issue 12 (param-types.ts): string limits, enum values, a list's item type.
    pattern: z.string().optional(),
    min_length: z.number().int().min(0).optional(),
    max_length: z.number().int().min(1).optional(),
    values: z.array(z.string()).min(1).optional(),
    of: z.union([ParamType.exclude(['list']), z.literal('record')]).optional(),
    /** A list of records (`of: record`): each item's fields, by name (issue 28). */
    fields: z.record(VarName, FieldSpec).optional(),
    /**
     * An address this host must have (an `ipv4` the runbook's checks reach on the host, such as
     * the host_ip a container pings): `run` warns before it starts when no interface has it
     * (issue 26; engine/host-addresses.ts).
     */
    on_this_host: z.literal(true).optional(),
  })
  .refine((spec) => spec.on_this_host === undefined || spec.type === 'ipv4', {
    message: '"on_this_host" is for an ipv4 parameter',
    path: ['on_this_host'],
  });

export const RunbookSpec = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only'),
    description: z.string().min(1),
    parameters: z.record(z.string().regex(/^[a-z_][a-z0-9_]*$/), ParamSpec).default({}),
    steps: z.array(StepItem).min(1, 'a runbook needs at least one step'),
    constraints: z.array(ConstraintSpec).default([]),
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
      for (const [step, path] of stepsIn(item, ['steps', index])) {
        if (step.do.length > 0 && Array.isArray(step.undo) && step.undo.length === 0) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'undo'],
            message: 'a step that changes the host (has "do") must say how to undo it',
          });
        }
      }
    });
  });

/** Every plain step of an item (a step, or a loop's steps at any depth), with its path. */
function stepsIn(item: StepSpec | LoopSpec | IncludeSpec, path: PropertyKey[]): Array<[StepSpec, PropertyKey[]]> {
  if ('foreach' in item) return item.steps.flatMap((s, i) => stepsIn(s, [...path, 'steps', i]));
  if ('id' in item) return [[item, path]];
  return [];
}

export type RunbookSpec = z.infer<typeof RunbookSpec>;
export type IncludeSpec = z.infer<typeof IncludeSpec>;
export type StepSpec = z.infer<typeof StepSpec>;
export type CommandSpec = z.infer<typeof CommandSpec>;
export type CaptureSpec = z.infer<typeof CaptureSpec>;
export type ConditionSpec = z.infer<typeof ConditionSpec>;
export type CheckSpec = z.infer<typeof CheckSpec>;
export type RequireSpec = z.infer<typeof RequireSpec>;
export type ProbeSpec = z.infer<typeof ProbeSpec>;
export type ParamSpec = z.infer<typeof ParamSpec>;

/** A runbook with its includes resolved: what load.ts hands on to be rendered. */
export interface ResolvedRunbook {
  name: string;
  description: string;
  parameters: Record<string, ParamSpec>;
  steps: Array<StepSpec | LoopSpec>;
  /** Its own constraints and those of what it includes (checked when the plan is rendered). */
  constraints?: ConstraintSpec[];
}
