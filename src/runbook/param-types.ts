import path from 'node:path';
import { linearRegexProblem, matchesWholeLinear } from './linear-regex.js';
import { checkPlainText } from '../text/plain-text.js';
import type { ParamSpec, ParamType } from './schema.js';

/**
 * The parameter types added for runbooks of one's own (issue 12): `string`, `path`, `enum`,
 * `mac` and `list`. Kept apart from params.ts, which holds the network types, so that each file
 * says one thing. Values are always strings (they end up in argv); a list is its items joined
 * with "," (as `--set names=a,b,c` gives it), split again by a loop.
 */

/** The types this file checks. */
export const extendedTypes: ReadonlySet<ParamType> = new Set(['string', 'path', 'enum', 'mac', 'list']);

/** How params.ts checks a value of any type: what a list's items of a network type go through. */
export type CheckValue = (type: ParamType, value: string, spec: ParamSpec) => string | undefined;

/**
 * Why `value` is not a valid value of `spec` (whose type is one of extendedTypes), or undefined
 * when it is. `checkAny` checks a list's items of the other types (handed in by params.ts, which
 * imports this file: not imported back, so that the two make no cycle).
 */
export function checkExtendedValue(spec: ParamSpec, value: string, checkAny: CheckValue): string | undefined {
  if (spec.type === 'list') return checkList(spec, value, checkAny);
  return checkSingle(spec.type, value, spec);
}

function checkSingle(type: ParamType, value: string, spec: ParamSpec): string | undefined {
  const control = checkPlainText(value);
  if (control !== undefined) return control;
  // Rollback fills captured values into placeholders that a value could otherwise smuggle in.
  if (value.includes('{{') || value.includes('}}')) return 'a value cannot contain "{{" or "}}"';
  switch (type) {
    case 'string': {
      const length = [...value].length;
      if (spec.min_length !== undefined && length < spec.min_length)
        return `expected at least ${spec.min_length} characters, got ${length}`;
      if (spec.max_length !== undefined && length > spec.max_length)
        return `expected at most ${spec.max_length} characters, got ${length}`;
      if (spec.pattern !== undefined && !matchesWholeLinear(spec.pattern, value))
        return `expected text matching the whole of /${spec.pattern}/`;
      return undefined;
    }
    case 'path':
      if (!value.startsWith('/')) return 'expected an absolute path (starting with "/")';
      if (path.posix.normalize(value) !== value || (value.length > 1 && value.endsWith('/')))
        return `expected a normalised path: "${normalised(value)}" (no "//", ".", ".." or trailing "/")`;
      return undefined;
    case 'enum':
      return spec.values?.includes(value) === true ? undefined : `expected one of: ${(spec.values ?? []).join(', ')}`;
    case 'mac':
      // Lower-case, as `ip -j link` prints it, so that a verify can compare it exactly.
      return /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(value)
        ? undefined
        : 'expected a MAC address in lower case, such as 02:42:ac:11:00:02';
    default:
      return `"${type}" is not checked here`;
  }
}

function checkList(spec: ParamSpec, value: string, checkAny: CheckValue): string | undefined {
  const of = spec.of;
  if (of === undefined) return 'a list parameter needs "of": the type of its items';
  if (value === '') return undefined; // the empty list
  const problems = value.split(',').map((item, i) => {
    if (item === '') return `item ${i + 1} is empty`;
    const problem = extendedTypes.has(of) ? checkSingle(of, item, { ...spec, type: of }) : checkAny(of, item, spec);
    return problem === undefined ? undefined : `item ${i + 1} "${item}": ${problem}`;
  });
  return problems.find((p) => p !== undefined);
}

function normalised(value: string): string {
  const n = path.posix.normalize(value);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * A default as written in YAML, as the string `--set` would give: a list default may be a YAML
 * list (`[a, b]`), joined with ",". An item holding "," could not be told apart from two.
 */
export function defaultText(value: string | number | Array<string | number>): string | { problem: string } {
  if (!Array.isArray(value)) return String(value);
  const items = value.map(String);
  const withComma = items.find((i) => i.includes(','));
  if (withComma !== undefined) return { problem: `list item "${withComma}" contains ",", which separates items` };
  return items.join(',');
}

/**
 * Problems with the parameter declarations themselves, found when the file is read (before any
 * value is looked at): an enum without values, a pattern that is not a regular expression, a
 * list without an item type, limits on a type that does not use them.
 */
export function paramSpecProblems(parameters: Record<string, ParamSpec>): string[] {
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(parameters)) {
    const at = `parameters.${name}`;
    const itemType = spec.type === 'list' ? spec.of : spec.type;
    if (spec.type === 'list' && spec.of === undefined) problems.push(`${at}.of: a list needs the type of its items`);
    if (spec.type !== 'list' && spec.of !== undefined) problems.push(`${at}.of: only a list has an item type`);
    if (itemType === 'enum' && spec.values === undefined) problems.push(`${at}.values: an enum needs its values`);
    if (itemType !== 'enum' && spec.values !== undefined) problems.push(`${at}.values: only an enum has values`);
    for (const key of ['pattern', 'min_length', 'max_length'] as const) {
      if (spec[key] !== undefined && itemType !== 'string') problems.push(`${at}.${key}: only a string has ${key}`);
    }
    if (spec.pattern !== undefined) {
      // Matched on RE2's linear-time engine, whole value only: a --set value cannot hang a run.
      if (linearRegexProblem(spec.pattern) !== undefined)
        problems.push(`${at}.pattern: not a valid regular expression (RE2 syntax: no backreferences or lookaround)`);
    }
    if (spec.min_length !== undefined && spec.max_length !== undefined && spec.min_length > spec.max_length)
      problems.push(`${at}: min_length is greater than max_length`);
    for (const key of ['default', 'sandbox_default'] as const) {
      const value = spec[key];
      if (Array.isArray(value) && spec.type !== 'list') problems.push(`${at}.${key}: only a list default is a list`);
    }
  }
  return problems;
}
