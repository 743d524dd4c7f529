import { isMap, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import { nearestSpellings } from './spelling.js';
import {
  CaptureSpec,
  CheckSpec,
  CommandSpec,
  ConditionSpec,
  ConstraintSpec,
  ExpectSpec,
  FieldSpec,
  IncludeSpec,
  LoopSpec,
  ParamSpec,
  ProbeSpec,
  RunbookSpec,
  StepSpec,
} from './schema.js';

/**
 * The hint after "Unrecognized key" (issue 28): "did you mean" the key of that map nearest in
 * spelling (`retry` → `retries`), and the comma trap only where a comma is the cause (a bare
 * word after a comma in a `{ }` map, which YAML reads as a key without a value).
 */
export function unknownKeyHint(issue: z.core.$ZodIssue, doc: Document, data: unknown): string {
  const keys = unknownKeys(issue);
  if (keys.length === 0) return '';
  // `read:` where only commands go (issue 16): say where it belongs instead.
  if (keys.includes('read'))
    return ' ("read:" is for checks and probes only: verify, requires, diagnose; here run a command, e.g. [cat, FILE])';
  // The comma trap: the "key" is the rest of a value, so no other key was meant.
  if (commaIsTheCause(doc, issue.path, keys))
    return ' (inside { }, a comma ends a value: quote text that holds a comma, or write the map in block style)';
  const hints: string[] = [];
  const known = knownKeysAt(issue.path, data);
  for (const key of keys) {
    const [near] = nearestSpellings(key, known);
    if (near !== undefined) hints.push(`did you mean "${near}"?`);
  }
  if (hints.length === 0 && known.length > 0) hints.push(`this map takes: ${known.join(', ')}`);
  return hints.length === 0 ? '' : ` (${hints.join('; ')})`;
}

/** The unknown keys an issue names: zod's own issue, or one passed on by a transform (its message). */
function unknownKeys(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') return issue.keys;
  if (!issue.message.startsWith('Unrecognized key')) return [];
  return [...issue.message.matchAll(/"([^"]*)"/g)].map((m) => m[1] as string);
}

/** A bare word after a comma in a flow map is a key whose value is null: the trap's signature. */
function commaIsTheCause(doc: Document, path: readonly PropertyKey[], keys: readonly string[]): boolean {
  const node = doc.getIn(path as unknown[], true);
  if (!isMap(node) || node.flow !== true) return false;
  return node.items.some(
    (pair) =>
      isScalar(pair.key) &&
      keys.includes(String(pair.key.value)) &&
      (pair.value === null || (isScalar(pair.value) && pair.value.value === null)),
  );
}

const shapeKeys = (schema: unknown): string[] => Object.keys((schema as { shape: object }).shape);
/** A lazy schema's object (LoopSpec and ExpectSpec are recursive, so declared lazily). */
const unwrap = (schema: unknown): unknown => (schema as { unwrap: () => unknown }).unwrap();
const keys = {
  runbook: shapeKeys(RunbookSpec),
  step: shapeKeys(StepSpec),
  loop: shapeKeys(unwrap(LoopSpec)),
  foreach: shapeKeys((unwrap(LoopSpec) as { shape: { foreach: unknown } }).shape.foreach),
  include: shapeKeys(IncludeSpec),
  check: shapeKeys(CheckSpec),
  probe: shapeKeys(ProbeSpec),
  command: shapeKeys((CommandSpec as unknown as { options: unknown[] }).options[1]),
  condition: shapeKeys(ConditionSpec),
  capture: shapeKeys((CaptureSpec as unknown as { options: unknown[] }).options[1]),
  expect: shapeKeys(unwrap(ExpectSpec)),
  parameter: shapeKeys(ParamSpec),
  field: shapeKeys(FieldSpec),
  constraint: shapeKeys(ConstraintSpec),
  noUndo: ['none'],
};

/** The keys the map at `path` takes, read from the schema: [] when the path is not one this knows. */
function knownKeysAt(path: readonly PropertyKey[], data: unknown): string[] {
  const at = (n: number) => path[n];
  const value = (n: number): unknown =>
    path.slice(0, n).reduce<unknown>((node, key) => (node as Record<PropertyKey, unknown> | undefined)?.[key], data);
  if (path.length === 0) return keys.runbook;
  if (at(0) === 'parameters') return path.length === 2 ? keys.parameter : path.length === 4 ? keys.field : [];
  if (at(0) === 'constraints') return path.length === 2 ? keys.constraint : at(2) === 'foreach' ? keys.foreach : [];
  if (at(0) !== 'steps') return [];
  // Down through loops: steps[i].steps[j]…
  let n = 2;
  while (at(n) === 'steps' && typeof at(n + 1) === 'number') n += 2;
  const item = value(n) as Record<string, unknown> | undefined;
  const rest = path.slice(n);
  if (rest.length === 0)
    return item !== undefined && 'foreach' in item
      ? keys.loop
      : item !== undefined && 'include' in item
        ? keys.include
        : keys.step;
  return keysInStep(rest);
}

function keysInStep(rest: readonly PropertyKey[]): string[] {
  const [field, index, sub, ...more] = rest;
  if (field === 'foreach') return keys.foreach;
  if (field === 'when') return index === undefined ? keys.condition : expectKeys(rest.slice(1));
  if (field === 'undo' && index === undefined) return keys.noUndo;
  if (field === 'capture' || field === 'export') return sub === undefined ? keys.capture : [];
  const kind =
    field === 'verify' || field === 'requires'
      ? keys.check
      : field === 'diagnose'
        ? keys.probe
        : field === 'do' || field === 'undo'
          ? keys.command
          : undefined;
  if (kind === undefined || typeof index !== 'number') return [];
  if (sub === undefined) return kind;
  if ((sub === 'if' || sub === 'unless') && more.length === 0) return keys.condition;
  return expectKeys([sub, ...more].slice(sub === 'if' || sub === 'unless' ? 1 : 0));
}

/** Inside an expectation (`expect`, a probe's `when`, `not` at any depth). */
function expectKeys(rest: readonly PropertyKey[]): string[] {
  const [head, ...tail] = rest;
  if (head !== 'expect' && head !== 'when' && head !== 'not') return [];
  return tail.every((k) => k === 'not') ? keys.expect : [];
}
