import { invalidInput } from '../errors.js';
import { recordsOf, type RecordValue } from './param-types.js';
import type { LoopSpec, ParamSpec } from './schema.js';
import { bindRecord, renderTemplate, type Scope } from './template.js';

/**
 * The values a `foreach` takes, for loops of steps and for constraints alike (issue 28: `in:`
 * everywhere `foreach` exists): whole numbers from `from` to `to`, the items of a list (a YAML
 * list, or a list parameter named as "{{name}}"), the records of a list of records, or several
 * lists walked together, item by item, as records (`in: { name: "{{names}}", mac: "{{macs}}" }`).
 */

export interface LoopValue {
  /** The value as text (a record: its JSON). */
  value: string;
  /** For a record: its fields, bound as "var.field". */
  record?: RecordValue | undefined;
  /** 1, 2, …: the position of the value. */
  index: number;
  /** What a plain step id in the loop gets after a dash: the number (ranges) or the index (lists). */
  suffix: string;
}

export type Foreach = LoopSpec['foreach'];

/** The loop's values, in order; a bound or list that does not render to one is invalid input. */
export function loopValues(
  foreach: Foreach,
  scope: Scope,
  parameters: Readonly<Record<string, ParamSpec>>,
): LoopValue[] {
  const items = foreach.in;
  if (items === undefined) {
    const from = loopBound(foreach.from ?? 0, scope, 'from');
    const to = loopBound(foreach.to ?? -1, scope, 'to');
    const values: LoopValue[] = [];
    for (let n = from; n <= to; n++) values.push({ value: String(n), index: n - from + 1, suffix: String(n) });
    return values;
  }
  const listed = (values: Array<string | RecordValue>): LoopValue[] =>
    values.map((item, i) =>
      typeof item === 'string'
        ? { value: item, index: i + 1, suffix: String(i + 1) }
        : { value: JSON.stringify(item), record: item, index: i + 1, suffix: String(i + 1) },
    );
  if (typeof items === 'string') return listed(listItems(items, scope, parameters));
  if (Array.isArray(items))
    return listed(
      items.map((item) =>
        typeof item === 'object'
          ? Object.fromEntries(Object.entries(item).map(([k, v]) => [k, renderTemplate(String(v), scope)]))
          : renderTemplate(String(item), scope),
      ),
    );
  // Several lists walked together: the n-th record holds the n-th item of each.
  const columns = Object.entries(items).map(([field, list]) => {
    const values = Array.isArray(list)
      ? list.map((item) => renderTemplate(String(item), scope))
      : listItems(list, scope, parameters);
    if (values.some((v) => typeof v !== 'string'))
      throw invalidInput(`foreach.in.${field}: a list walked with others holds values, not records`);
    return [field, values as string[]] as const;
  });
  const lengths = new Set(columns.map(([, values]) => values.length));
  if (lengths.size > 1)
    throw invalidInput(
      `foreach.in: the lists walked together have different lengths: ${columns.map(([f, v]) => `${f} has ${v.length}`).join(', ')}`,
      'give each list the same number of items (or use a list of records)',
    );
  const count = columns[0]?.[1].length ?? 0;
  const records: RecordValue[] = [];
  for (let i = 0; i < count; i++)
    records.push(Object.fromEntries(columns.map(([f, values]) => [f, values[i] as string])));
  return listed(records);
}

/**
 * How many values a loop takes, and its bounds or list as rendered (for messages): a range's
 * length is worked out from its bounds, never listed, so that a bound of 20000000 costs nothing
 * to refuse (issue 22); a list's items are bounded by the length of one value.
 */
export function loopLength(
  foreach: Foreach,
  scope: Scope,
  parameters: Readonly<Record<string, ParamSpec>>,
): { length: number; written: string } {
  if (foreach.in === undefined) {
    const from = loopBound(foreach.from ?? 0, scope, 'from');
    const to = loopBound(foreach.to ?? -1, scope, 'to');
    return { length: Math.max(0, to - from + 1), written: `from ${from} to ${to}` };
  }
  const length = loopValues(foreach, scope, parameters).length;
  return { length, written: `over ${length.toLocaleString('en')} items` };
}

/** The items of `in: "{{name}}"`: a list parameter's items, or a list of records' records. */
function listItems(
  written: string,
  scope: Scope,
  parameters: Readonly<Record<string, ParamSpec>>,
): Array<string | RecordValue> {
  const named = /^\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}$/.exec(written)?.[1];
  const spec = named === undefined ? undefined : parameters[named];
  const text = renderTemplate(written, scope);
  if (spec?.of === 'record') {
    const records = recordsOf(spec, text);
    if ('problem' in records) throw invalidInput(`foreach.in: ${records.problem}`);
    return records;
  }
  return text === '' ? [] : text.split(',');
}

function loopBound(bound: number | string, scope: Scope, which: string): number {
  const text = renderTemplate(String(bound), scope);
  if (!/^-?\d+$/.test(text)) throw invalidInput(`foreach.${which} is "${text}", not a whole number`);
  return Number(text);
}

/** The scope inside one pass of the loop: its variable (or a record's fields) and its index. */
export function scopeOfPass(scope: Scope, foreach: Foreach, pass: LoopValue): Record<string, string> {
  const inner: Record<string, string> = { ...scope };
  if (pass.record === undefined) inner[foreach.var] = pass.value;
  else bindRecord(inner, foreach.var, pass.record);
  if (foreach.index !== undefined) inner[foreach.index] = String(pass.index);
  return inner;
}
