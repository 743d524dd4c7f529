import { LineCounter, parseDocument } from 'yaml';
import { invalidInput } from '../errors.js';
import { defaultText, paramSpecProblems } from './param-types.js';
import { checkParamValue } from './params.js';
import { RunbookSpec, type LoopSpec, type ParamSpec, type ResolvedRunbook, type StepSpec } from './schema.js';
import { readRunbookText, shippedRunbooksDir } from './search-path.js';
import {
  readIncludeFromDisk,
  resolveRunbookFile,
  runbookTextsHash,
  type IncludeReader,
  type RunbookSource,
} from './locate.js';
import { checkPlaceholders } from './check-placeholders.js';
import { formatSchemaIssues, position } from './yaml-errors.js';
import { unknownKeyHint } from './key-hints.js';
import { expandedYamlSize } from './yaml-size.js';
import { maxRunbookBytes, maxYamlNodes } from './limits.js';

// Finding a runbook's file lives in locate.ts (no YAML there); these stay importable from here.
export { listRunbookNames, readIncludeFromDisk, resolveRunbookFile } from './locate.js';
export type { IncludeReader, RunbookSource } from './locate.js';

/** The runbooks shipped with runbook (in the one-file bundle: embedded in it). */
export const runbooksDir = shippedRunbooksDir;

/** A runbook after its includes are brought in: parameters merged, only steps and loops left. */
export type { ResolvedRunbook };

/** A runbook file read and validated, with what the journal needs to pin it. */
export interface LoadedRunbook {
  spec: ResolvedRunbook;
  /** Where it was read from. */
  file: string;
  /** The exact text, recorded in the journal so that resume runs what was started. */
  source: string;
  /** The exact text of every runbook it includes, recorded likewise. */
  includes: RunbookSource[];
  /** sha256 over the text of the file and of its includes, to notice a change under a run. */
  hash: string;
}

export function loadRunbook(nameOrPath: string): LoadedRunbook {
  const file = resolveRunbookFile(nameOrPath);
  return parseRunbook(readRunbookText(file), file);
}

/**
 * The hash of a runbook file as it is now, includes and all (`LoadedRunbook.hash`); undefined
 * if it is gone or does not load. For resume, which refuses a runbook changed under its run.
 * loadRunbook, not the disk, says whether it exists: in the one-file bundle a shipped
 * runbook's file is `bundled:runbooks/NAME.yaml`, embedded (issue 13).
 */
export function runbookHashNow(file: string): string | undefined {
  try {
    return loadRunbook(file).hash;
  } catch {
    return undefined;
  }
}

/** Parses and validates runbook text and its includes; every problem names the file and the field. */
export function parseRunbook(
  source: string,
  file: string,
  readInclude: IncludeReader = readIncludeFromDisk,
): LoadedRunbook {
  const includes: RunbookSource[] = [];
  const spec = resolve(source, file, readInclude, includes, []);
  checkPlaceholders(spec, file);
  checkConcerns(spec, file);
  return { spec, file, source, includes, hash: runbookTextsHash(source, includes) };
}

function resolve(
  source: string,
  file: string,
  readInclude: IncludeReader,
  includes: RunbookSource[],
  stack: string[],
): ResolvedRunbook {
  const spec = validate(source, file);
  if (stack.includes(spec.name)) throw invalidInput(`${file}: include cycle: ${[...stack, spec.name].join(' → ')}`);
  const resolved: ResolvedRunbook = {
    name: spec.name,
    description: spec.description,
    parameters: {},
    steps: [],
    constraints: [],
  };
  for (const item of spec.steps) {
    if (!('include' in item)) {
      resolved.steps.push(item);
      continue;
    }
    const included = readInclude(item.include, file);
    if (!includes.some((i) => i.name === included.name)) includes.push(included);
    const inner = resolve(included.source, included.file, readInclude, includes, [...stack, spec.name]);
    Object.assign(resolved.parameters, inner.parameters);
    resolved.steps.push(...inner.steps);
    resolved.constraints?.push(...(inner.constraints ?? []));
  }
  // The including runbook's own declarations win (e.g. to change a default).
  Object.assign(resolved.parameters, spec.parameters);
  resolved.constraints?.push(...spec.constraints);
  return resolved;
}

function validate(source: string, file: string): RunbookSpec {
  // A runbook is a page or two; far larger text is a mistake or an attack on the parser. (A
  // file is refused before it is read, by readRunbookFile; this is for text given otherwise.)
  if (source.length > maxRunbookBytes || Buffer.byteLength(source) > maxRunbookBytes) {
    throw invalidInput(
      `${file}: too large for a runbook (${Buffer.byteLength(source)} bytes; at most ${maxRunbookBytes}); nothing was run`,
    );
  }
  const lines = new LineCounter();
  const doc = parseDocument(source, { prettyErrors: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw invalidInput(`${file}: not valid YAML:\n${doc.errors.map((e) => `  ${e.message}`).join('\n')}`);
  }
  // What the aliases expand to is counted before anything is expanded (issue 22): a small file
  // can otherwise expand to millions of values, each then validated and rendered.
  const size = expandedYamlSize(doc, maxYamlNodes);
  if (size > maxYamlNodes) {
    throw invalidInput(
      `${file}: too large once its YAML aliases are expanded (more than ${maxYamlNodes.toLocaleString('en')} values; each use of an alias such as *probes counts its whole list); nothing was run`,
      'a runbook is a page or two: share fewer or shorter lists through aliases, or repeat steps with foreach:',
    );
  }
  // Shared probe lists (`diagnose: *probes`) make many aliases; yaml's default cap of 100 is a
  // guard against alias bombs, so raise it rather than lift it.
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 10_000 });
  } catch (error) {
    // yaml's guard against alias bombs ("Excessive alias count …"), and any other refusal of
    // its own: input, not an internal error.
    throw invalidInput(`${file}: not valid YAML: ${error instanceof Error ? error.message : String(error)}`);
  }
  // A "\0" escape in a quoted string makes a NUL, which no program can be given (issue 22).
  const nul = pathToNul(data);
  if (nul !== undefined) {
    const where = position(doc, lines, nul);
    throw invalidInput(
      `${file}: ${formatPath(nul)} holds a NUL character (written "\\0" or "\\x00")${where === undefined ? '' : ` (${where})`}: no command can be given one; nothing was run`,
    );
  }
  const parsed = RunbookSpec.safeParse(data);
  if (!parsed.success) {
    throw invalidInput(
      `${file}: not a valid runbook:\n${formatSchemaIssues(parsed.error.issues, doc, lines, formatPath, (issue) => unknownKeyHint(issue, doc, data))}`,
      'the format is described in docs/runbook-format.md',
    );
  }
  const problems = [...paramSpecProblems(parsed.data.parameters), ...defaultProblems(parsed.data.parameters)];
  if (problems.length > 0) {
    throw invalidInput(
      `${file}: not a valid runbook:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      'the parameter types are described in docs/runbook-format.md',
    );
  }
  return parsed.data;
}

/**
 * Defaults are checked like --set values, when the file is read: a bad default is the author's
 * mistake and should not wait for the day nobody overrides it.
 */
function defaultProblems(parameters: Record<string, ParamSpec>): string[] {
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(parameters)) {
    for (const key of ['default', 'sandbox_default'] as const) {
      const written = spec[key];
      if (written === undefined || (Array.isArray(written) && spec.type !== 'list')) continue;
      const text = defaultText(written);
      const problem = typeof text === 'object' ? text.problem : checkParamValue(spec.type, text, spec);
      if (problem !== undefined)
        problems.push(`parameters.${name}.${key}: "${String(written)}" is not a valid ${spec.type}: ${problem}`);
    }
  }
  return problems;
}

/** The path of the first string (or key) holding a NUL, or undefined. */
function pathToNul(value: unknown, path: PropertyKey[] = []): PropertyKey[] | undefined {
  if (typeof value === 'string') return value.includes('\0') ? path : undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = pathToNul(item, [...path, i]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\0')) return [...path, key];
      const found = pathToNul(item, [...path, key]);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function formatPath(parts: readonly PropertyKey[]): string {
  if (parts.length === 0) return '(top level)';
  return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** A probe's `concerns` must name steps of the runbook: a typo would silently drop the probe. */
function checkConcerns(spec: ResolvedRunbook, file: string): void {
  const plainSteps = (item: StepSpec | LoopSpec): StepSpec[] =>
    'foreach' in item ? item.steps.flatMap(plainSteps) : [item];
  const steps = spec.steps.flatMap(plainSteps);
  const ids = new Set(steps.map((step) => step.id));
  const problems = new Set<string>();
  for (const step of steps)
    for (const probe of step.diagnose)
      for (const id of probe.concerns ?? [])
        if (!ids.has(id))
          problems.add(`  step ${step.id}: a diagnose probe concerns "${id}", which is not a step here`);
  if (problems.size > 0) throw invalidInput(`${file}: not a valid runbook:\n${[...problems].join('\n')}`);
}
