import path from 'node:path';
import { linearRegexProblem, matchesWholeLinear } from './linear-regex.js';
import { checkPlainText } from '../text/plain-text.js';
import { checkNetworkValue } from './network-types.js';
import type { ParamSpec, ParamType } from './schema.js';

/**
 * The parameter types added for runbooks of one's own (issue 12): `string`, `path`, `enum`,
 * `mac` and `list`. Kept apart from params.ts, which holds the network types, so that each file
 * says one thing. Values are always strings (they end up in argv); a list is its items joined
 * with "," (as `--set names=a,b,c` gives it), split again by a loop.
 */

/** The types this file checks. */
export const extendedTypes: ReadonlySet<ParamType> = new Set(['string', 'path', 'enum', 'mac', 'list']);

/** Why `value` is not a valid `type`, or undefined when it is: the one check for every type. */
export function checkParamValue(
  type: ParamType,
  value: string,
  spec?: Pick<ParamSpec, 'min' | 'max'> & Partial<ParamSpec>,
): string | undefined {
  if (extendedTypes.has(type)) return checkExtendedValue({ ...spec, type } as ParamSpec, value);
  // No type takes a control character: the type's own message first, when it has one.
  return checkNetworkValue(type, value, spec) ?? checkPlainText(value);
}

/**
 * Why `value` is not a valid value of `spec` (whose type is one of extendedTypes), or undefined
 * when it is. A list's items of a network type go through network-types.ts.
 */
function checkExtendedValue(spec: ParamSpec, value: string): string | undefined {
  if (spec.type === 'list') return checkList(spec, value);
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

function checkList(spec: ParamSpec, value: string): string | undefined {
  const of = spec.of;
  if (of === undefined) return 'a list parameter needs "of": the type of its items';
  if (of === 'record') {
    const records = recordsOf(spec, value);
    return 'problem' in records ? records.problem : undefined;
  }
  if (value === '') return undefined; // the empty list
  const problems = value.split(',').map((item, i) => {
    if (item === '') return `item ${i + 1} is empty`;
    const problem = checkItem(of, item, spec);
    return problem === undefined ? undefined : `item ${i + 1} "${item}": ${problem}`;
  });
  return problems.find((p) => p !== undefined);
}

/** Why `item` is not a valid value of type `of` with the limits of `spec` (a list's, or a field's). */
function checkItem(of: ParamType, item: string, spec: Partial<ParamSpec>): string | undefined {
  return extendedTypes.has(of)
    ? checkSingle(of, item, { ...spec, type: of } as ParamSpec)
    : checkParamValue(of, item, spec as ParamSpec);
}

/** A record: its fields' values, as text, in the order the spec declares them. */
export type RecordValue = Readonly<Record<string, string>>;

/**
 * The records of a list of records (issue 28), as `--set` gives them (a JSON list of objects)
 * or as a default holds them (the same JSON): each field checked like a parameter of its type,
 * a missing field given its default, an unknown one refused. "" is the empty list.
 */
export function recordsOf(spec: Pick<ParamSpec, 'fields'>, value: string): RecordValue[] | { problem: string } {
  if (value === '') return [];
  const example = `such as [{${Object.keys(spec.fields ?? {})
    .map((f) => `"${f}": "…"`)
    .join(', ')}}]`;
  let items: unknown;
  try {
    items = JSON.parse(value);
  } catch {
    return { problem: `expected a JSON list of records, ${example}` };
  }
  if (!Array.isArray(items)) return { problem: `expected a JSON list of records, ${example}` };
  const fields = Object.entries(spec.fields ?? {});
  const records: RecordValue[] = [];
  for (const [i, item] of items.entries()) {
    const at = `item ${i + 1}`;
    if (item === null || typeof item !== 'object' || Array.isArray(item))
      return { problem: `${at} is not a record (a map of fields), ${example}` };
    const unknown = Object.keys(item).filter((key) => !Object.hasOwn(spec.fields ?? {}, key));
    if (unknown.length > 0)
      return {
        problem: `${at} has no field "${unknown[0]}" (the fields are: ${fields.map(([f]) => f).join(', ')})`,
      };
    const record: Record<string, string> = {};
    for (const [field, fieldSpec] of fields) {
      const given = (item as Record<string, unknown>)[field];
      const written = given ?? fieldSpec.default;
      if (written === undefined)
        return { problem: `${at} has no "${field}" (a ${fieldSpec.type}), and it has no default` };
      if (typeof written !== 'string' && typeof written !== 'number')
        return { problem: `${at} field ${field}: expected text or a number` };
      const text = String(written);
      const problem = checkPlainText(text) ?? checkItem(fieldSpec.type, text, fieldSpec);
      if (problem !== undefined) return { problem: `${at} field ${field} "${text}": ${problem}` };
      record[field] = text;
    }
    records.push(record);
  }
  return records;
}

/** The one text of a list of records, whatever way it was written: canonical JSON, defaults filled. */
export function canonicalRecords(records: readonly RecordValue[]): string {
  return records.length === 0 ? '' : JSON.stringify(records);
}

/** Problems with a list of records' declaration: its fields, each declared like a parameter. */
function recordSpecProblems(at: string, spec: ParamSpec): string[] {
  if (spec.fields === undefined || Object.keys(spec.fields).length === 0)
    return [`${at}.fields: a list of records needs its fields ({ name: { type: name }, … })`];
  const problems: string[] = [];
  for (const key of ['pattern', 'min_length', 'max_length', 'values', 'min', 'max'] as const)
    if (spec[key] !== undefined) problems.push(`${at}.${key}: give it to a field of the record, not to the list`);
  for (const [field, fieldSpec] of Object.entries(spec.fields)) {
    const where = `${at}.fields.${field}`;
    problems.push(
      ...paramSpecProblems({ [field]: fieldSpec as ParamSpec }).map((p) => p.replace(`parameters.${field}`, where)),
    );
    if (fieldSpec.default !== undefined) {
      const text = String(fieldSpec.default);
      const problem = checkItem(fieldSpec.type, text, fieldSpec);
      if (problem !== undefined)
        problems.push(`${where}.default: "${text}" is not a valid ${fieldSpec.type}: ${problem}`);
    }
  }
  return problems;
}

function normalised(value: string): string {
  const n = path.posix.normalize(value);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * A default as written in YAML, as the string `--set` would give: a list default may be a YAML
 * list (`[a, b]`), joined with ",". An item holding "," could not be told apart from two.
 */
export function defaultText(
  value: string | number | Array<string | number | Record<string, string | number>>,
): string | { problem: string } {
  if (!Array.isArray(value)) return String(value);
  // A list of records is written as YAML maps; its text is their JSON (recordsOf reads it).
  if (value.some((item) => typeof item === 'object')) {
    if (!value.every((item) => typeof item === 'object'))
      return { problem: 'a list of records holds records (maps) only' };
    return JSON.stringify(value);
  }
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
    if (spec.of === 'record') {
      problems.push(...recordSpecProblems(at, spec));
      continue;
    }
    if (spec.fields !== undefined) problems.push(`${at}.fields: only a list of records (of: record) has fields`);
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
