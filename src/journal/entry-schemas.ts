import type {
  ExpectSpec,
  Plan,
  PlannedCapture,
  PlannedCheck,
  PlannedCommand,
  PlannedCondition,
  PlannedProbe,
  PlannedRequire,
  PlannedStep,
} from '../plan/plan.js';
import type { Envelope, HostIdentity, JournalEntry, ReplacedRun } from './entries.js';

/**
 * What each kind of journal entry holds, checked on every line the reader reads (issue 27): a
 * journal is read by validation, not by cast, so that a line that is not what this version
 * wrote (damaged on disk, edited, or written by a version with other fields) is reported as
 * damaged, naming the line, the entry and the field, instead of being misread — a run someone
 * still has to roll back must never be replayed from a guess.
 *
 * Why not zod, the project's schema library: reading a journal is on the start-up path of
 * `runs`, `journal`, `resume`, `rollback` and `confirm`, none of which loads zod today, and
 * loading it costs about 60 ms of CPU per command (measured: `runbook runs` 110 → 175 ms); the
 * checks here are a few comparisons per field. Each schema is typed by the entry's interface
 * (entries.ts, plan.ts): a field added to an interface without its check, or a check looser
 * than its field's type, does not compile.
 *
 * Every object is closed: a field this version does not know is damage too, because a
 * journal's fields change only with its format (entries.ts, `journalFormat`).
 */

/** Checks one value: what is wrong with it (a phrase: "is 3, not a string"), or undefined. */
export interface Check<T> {
  (value: unknown): string | undefined;
  /**
   * The values it accepts, for the compiler only (never set). A function of T both ways, so a
   * check must accept exactly its field's type: neither less (a valid journal called damaged)
   * nor more (a value the engine does not expect let through).
   */
  readonly accepts?: (value: T) => T;
}

/** Any check, as the code that runs them sees it (whatever it accepts). */
type SomeCheck = (value: unknown) => string | undefined;

/** A check of a field that may be absent (JSON drops undefined): made by `optional`. */
export type Optional<T> = Check<T> & { readonly optional: true };

const check = <T>(test: (value: unknown) => string | undefined): Check<T> => test as Check<T>;

const shown = (value: unknown): string => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

export const text = check<string>((v) => (typeof v === 'string' ? undefined : `is ${shown(v)}, not a string`));
export const bool = check<boolean>((v) => (typeof v === 'boolean' ? undefined : `is ${shown(v)}, not true or false`));
export const num = check<number>((v) =>
  typeof v === 'number' && Number.isFinite(v) ? undefined : `is ${shown(v)}, not a number`,
);
export const int = check<number>((v) => (Number.isInteger(v) ? undefined : `is ${shown(v)}, not an integer`));
export const anything = check<unknown>(() => undefined);

/** A check of a field with a fixed set of values, which it keeps (for the format test). */
type Enumerated = { readonly values?: readonly (string | number)[] };

export function oneOf<const V extends readonly (string | number)[]>(...values: V): Check<V[number]> {
  const allowed = new Set<unknown>(values);
  const test = check<V[number]>((v) =>
    allowed.has(v) ? undefined : `is ${shown(v)}, not one of ${values.join(', ')}`,
  );
  return Object.assign(test, { values });
}

export function optional<T>(inner: Check<T>): Optional<T | undefined> {
  const test = check<T | undefined>((v) => (v === undefined ? undefined : inner(v)));
  return Object.assign(test, { optional: true as const, values: (inner as Enumerated).values });
}

export function list<T, L extends readonly T[] = T[]>(item: Check<T>): Check<L> {
  return check((v) => {
    if (!Array.isArray(v)) return `is ${shown(v)}, not a list`;
    for (let i = 0; i < v.length; i++) {
      const problem = item(v[i]);
      if (problem !== undefined) return at(`[${i}]`, problem);
    }
    return undefined;
  });
}

export function record<T, R extends Readonly<Record<string, T>> = Record<string, T>>(value: Check<T>): Check<R> {
  return check((v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `is ${shown(v)}, not an object`;
    for (const [key, item] of Object.entries(v)) {
      const problem = value(item);
      if (problem !== undefined) return at(`.${key}`, problem);
    }
    return undefined;
  });
}

/** For a recursive shape (ExpectSpec's `not`). */
export function lazy<T>(get: () => Check<T>): Check<T> {
  return check((v) => get()(v));
}

/**
 * One check per field of T, each typed by the field: a field that may be undefined needs an
 * `optional` check, any other a plain one.
 */
export type Fields<T> = {
  readonly [K in keyof Required<T>]-?: undefined extends T[K]
    ? Optional<T[K]>
    : Check<T[K]> & { readonly optional?: undefined };
};

/** A closed object: every field checked, none missing unless optional, none unknown. */
export function shape<T>(fields: Fields<T>): Check<T> {
  const compiled = compile(fields as Record<string, SomeCheck>);
  return check((v) => objectProblem(v, compiled));
}

/** An object's checks laid out once, for a check per line that allocates nothing. */
interface Compiled {
  keys: string[];
  checks: Array<SomeCheck>;
  required: boolean[];
  known: ReadonlySet<string>;
}

function compile(fields: Record<string, SomeCheck>): Compiled {
  const keys = Object.keys(fields);
  return {
    keys,
    checks: keys.map((key) => fields[key] as SomeCheck),
    required: keys.map((key) => (fields[key] as Partial<Optional<never>>).optional !== true),
    known: new Set(keys),
  };
}

function objectProblem(value: unknown, c: Compiled): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `is ${shown(value)}, not an object`;
  const object = value as Record<string, unknown>;
  let present = 0;
  for (let i = 0; i < c.keys.length; i++) {
    const key = c.keys[i] as string;
    const item = object[key];
    if (item === undefined) {
      if (c.required[i] === true) return `has no ${key}`;
      continue;
    }
    present += 1;
    const problem = (c.checks[i] as SomeCheck)(item);
    if (problem !== undefined) return at(`.${key}`, problem);
  }
  // Every field it has was checked, unless it has more than those: then name the first other.
  let count = 0;
  for (const _key in object) count += 1;
  if (count === present) return undefined;
  const other = Object.keys(object).find((key) => !c.known.has(key));
  return `has a field ${shown(other)} it should not have`;
}

/** Where in a value a problem is: ".plan.steps[0].undo[0].argv is …". */
function at(where: string, problem: string): string {
  return problem.startsWith('.') || problem.startsWith('[') ? `${where}${problem}` : `${where} ${problem}`;
}

// ---------------------------------------------------------------------------------------------
// The plan a run-start entry records: what resume and rollback run.

const phase = oneOf(
  'check',
  'requires',
  'capture',
  'do',
  'verify',
  'diagnose',
  'undo',
  'undo-check',
  'undo-guard',
  'do-condition',
  'undo-condition',
  'when',
  'export',
  'final-verify',
);
const argv = list<string, readonly string[]>(text);
const runIds = list<string>(text);

const expectSpec: Check<ExpectSpec> = shape<ExpectSpec>({
  exit: optional(
    check<number | 'nonzero' | 'any'>((v) =>
      Number.isInteger(v) || v === 'nonzero' || v === 'any' ? undefined : `is ${shown(v)}, not an exit status`,
    ),
  ),
  output_contains: optional(text),
  output_matches: optional(text),
  json: optional(anything),
  not: optional(lazy(() => expectSpec)),
});

const condition = shape<PlannedCondition>({
  argv,
  timeoutMs: num,
  stdin: optional(text),
  expect: expectSpec,
  runWhenHolds: bool,
});

const commandFields = {
  argv,
  timeoutMs: num,
  stdin: optional(text),
  okExit: optional(list<number, readonly number[]>(int)),
  condition: optional(condition),
  read: optional(text),
} as const;
const retryFields = { retries: optional(int), delayMs: optional(num) } as const;

const command = shape<PlannedCommand>(commandFields);
const plannedCheck = shape<PlannedCheck>({ ...commandFields, ...retryFields, expect: expectSpec });
/** A precondition: a check, which may be about the host as found (issue 23's `preflight`). */
const plannedRequire = shape<PlannedRequire>({
  ...commandFields,
  ...retryFields,
  expect: expectSpec,
  preflight: optional(check<true>((v) => (v === true ? undefined : `is ${shown(v)}, not true`))),
  cause: optional(text),
  fix: optional(text),
});
const probe = shape<PlannedProbe>({
  ...commandFields,
  ...retryFields,
  when: expectSpec,
  cause: text,
  fix: optional(text),
  independent: bool,
});
const capture = shape<PlannedCapture>({
  ...commandFields,
  name: text,
  json: optional(text),
  regex: optional(text),
  trim: optional(bool),
});
const step = shape<PlannedStep>({
  id: text,
  title: text,
  why: text,
  capture: list(capture),
  requires: list(plannedRequire),
  onlyIfCreatedBy: optional(list(text)),
  when: optional(plannedCheck),
  export: optional(list(capture)),
  imports: optional(record(text)),
  do: list(command),
  verify: list(plannedCheck),
  undo: list(command),
  noUndo: optional(text),
  diagnose: list(probe),
});
const plan = shape<Plan>({ runbook: text, description: text, params: record(text), steps: list(step) });

// ---------------------------------------------------------------------------------------------
// The entries.

const user = shape<{ uid: number; sudoUser: string | undefined }>({ uid: int, sudoUser: optional(text) });
/** An earlier run a run replaces (issue 23): what it undoes of it, what it takes over. */
const replacedRun = shape<ReplacedRun>({
  runId: text,
  undo: argv,
  takeOver: list(shape<ReplacedRun['takeOver'][number]>({ step: text, captures: record(text), cutOff: bool })),
  exports: optional(record(record(text))),
});
const host = shape<HostIdentity>({ hostname: text, netns: text, sandbox: optional(text) });

/** The envelope every line carries (entries.ts): pino's level and msg, the time, the hash chain. */
const envelope: Fields<Envelope> = {
  level: int,
  time: text,
  seq: int,
  prev: check<string>((v) =>
    typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? undefined : `is ${shown(v)}, not a sha256`,
  ),
  msg: text,
};

type Kind = JournalEntry['type'];
type EntryOf<K extends Kind> = Extract<JournalEntry, { type: K }>;
type EntryFields = { [K in Kind]: Fields<Omit<EntryOf<K>, 'type'>> };

/**
 * The fields of each entry kind (besides `type` and the envelope), as journal format 2 has
 * them. Format 1 (0.1.0 and the commits before it) has the same: 0.1.0 wrote every field of
 * format 2, and earlier writers of format 1 a subset of the optional ones.
 */
const entryFields: EntryFields = {
  'run-start': {
    runId: text,
    runbook: text,
    runbookFile: text,
    runbookHash: text,
    runbookSource: text,
    runbookIncludes: list(
      shape<{ name: string; file: string; source: string }>({ name: text, file: text, source: text }),
    ),
    params: record(text),
    plan,
    user,
    host,
    engineVersion: text,
    stopAfter: optional(text),
    replaces: optional(list(replacedRun)),
    journalFormat: optional(int),
  },
  'attempt-start': {
    kind: oneOf('resume', 'rollback', 'replace'),
    pid: int,
    user,
    note: optional(text),
    journalFormat: optional(int),
  },
  'step-start': { step: text, index: int, title: text },
  'command-start': {
    step: text,
    phase,
    index: int,
    argv,
    timeoutMs: num,
    stdin: optional(text),
    attempt: optional(int),
    read: optional(text),
  },
  'command-end': {
    step: text,
    phase,
    index: int,
    exitCode: optional(int),
    signal: optional(text),
    timedOut: bool,
    startError: optional(text),
    durationMs: num,
    stdout: text,
    stderr: text,
    accepted: optional(bool),
  },
  'command-skipped': { step: text, phase, index: int, reason: text },
  check: {
    step: text,
    phase,
    index: int,
    ok: bool,
    reason: text,
    evidence: optional(text),
    attempt: optional(int),
  },
  capture: { step: text, name: text, value: text },
  export: { step: text, name: text, value: text },
  finding: { step: text, index: int, cause: text, evidence: optional(text), fix: optional(text), argv },
  'step-end': {
    step: text,
    outcome: oneOf('ok', 'changed', 'failed', 'skipped'),
    durationMs: num,
    doFailed: bool,
    reason: optional(text),
  },
  'run-end': {
    status: oneOf('succeeded', 'failed', 'interrupted', 'stopped'),
    failedStep: optional(text),
    message: optional(text),
  },
  'rollback-start': { steps: argv, reason: optional(text), replacedBy: optional(text) },
  'step-undone': {
    step: text,
    outcome: oneOf('undone', 'undo-failed', 'not-undoable'),
    durationMs: num,
    reason: optional(text),
  },
  'rollback-end': {
    status: oneOf('rolled-back', 'failed', 'interrupted'),
    message: optional(text),
    reason: optional(text),
    replacedBy: optional(text),
  },
  'confirm-pending': { deadline: text, withinMs: num, joined: optional(runIds) },
  'watchdog-started': { pid: int, startTime: text },
  'timer-armed': { unit: text, deadline: text },
  'deadline-moved': {
    deadline: text,
    previous: text,
    why: oneOf('extend', 'joined'),
    by: optional(text),
    user,
  },
  confirmed: { user, pid: int, deadline: text, together: optional(runIds) },
  'final-pass-start': { steps: argv },
  'final-pass-end': { status: oneOf('held', 'failed'), step: optional(text), undoneBy: optional(argv) },
  replaced: { by: text, handedOver: argv },
  'replace-end': { status: oneOf('replaced', 'failed', 'interrupted'), message: optional(text) },
};

/**
 * What format 2 added to format 1 (what 0.1.0 wrote): issue 28's kinds and fields, issue 24's
 * (a systemd timer armed, a deadline moved, runs that joined or were confirmed together), issue
 * 23's (a run replaced, a replace's end, the runs a run replaces, who a rollback undoes for), and
 * the format of a later attempt's entries. A format-1 journal holding one before an attempt in
 * format 2 was not written by a version that wrote format 1. (Inside the recorded
 * plan, issue 28's optional `when`, `export` and `imports` of a step are not told apart.)
 */
const addedInFormat2: { kinds: readonly Kind[]; fields: Partial<Record<Kind, readonly string[]>> } = {
  kinds: ['export', 'final-pass-start', 'final-pass-end', 'timer-armed', 'deadline-moved', 'replaced', 'replace-end'],
  fields: {
    'run-start': ['replaces'],
    'rollback-start': ['replacedBy'],
    'rollback-end': ['replacedBy'],
    'step-end': ['reason'],
    'attempt-start': ['journalFormat'],
    'confirm-pending': ['joined'],
    confirmed: ['together'],
  },
};

/** Each kind's checks with the envelope's, for each format this version reads: built once. */
const lineChecks = new Map(
  [1, 2].map((format) => [
    format,
    new Map(
      Object.entries(entryFields)
        .filter(([kind]) => format >= 2 || !addedInFormat2.kinds.includes(kind as Kind))
        .map(([kind, fields]) => {
          const left = format >= 2 ? [] : (addedInFormat2.fields[kind as Kind] ?? []);
          const own = Object.entries(fields as Record<string, SomeCheck>).filter(([name]) => !left.includes(name));
          return [kind, compile({ type: text, ...envelope, ...Object.fromEntries(own) })];
        }),
    ),
  ]),
);

/** The entry kinds, in the order entries.ts lists them: what `journal` formats know. */
export const entryKinds = Object.keys(entryFields) as Kind[];

/**
 * What is wrong with one parsed journal line (an object with a string `type`) of a journal
 * in `format` (1 or 2), or undefined when it is an entry of that format: "its command-end entry .exitCode is "x", not an
 * integer".
 */
export function entryProblem(line: { type: string }, format = 2): string | undefined {
  const checks = lineChecks.get(format)?.get(line.type);
  if (checks === undefined) return `${shown(line.type)} is not a kind of entry of journal format ${format}`;
  const problem = objectProblem(line, checks);
  return problem === undefined ? undefined : `its ${line.type} entry ${problem}`;
}

/**
 * The fields of every entry kind, as names: what the format test compares with the list kept
 * for each journal format, so that a field added or removed without a new format fails a test.
 */
export function entryFieldNames(): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(entryFields).map(([kind, fields]) => [
      kind,
      Object.entries(fields as Record<string, Partial<Optional<unknown>>>).map(([name, c]) =>
        c.optional === true ? `${name}?` : name,
      ),
    ]),
  );
}

/**
 * The values of every entry field that takes one of a fixed set (a phase, an outcome, a
 * status), as `kind.field`: a value added (a new phase) is a change of format too, since a
 * reader that does not know it calls the journal damaged.
 */
export function entryFieldValues(): Record<string, readonly (string | number)[]> {
  const out: Record<string, readonly (string | number)[]> = {};
  for (const [kind, fields] of Object.entries(entryFields))
    for (const [name, c] of Object.entries(fields as Record<string, Enumerated>))
      if (c.values !== undefined) out[`${kind}.${name}`] = c.values;
  return out;
}
