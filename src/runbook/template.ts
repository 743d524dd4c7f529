import { isIPv4 } from 'node:net';

/** Values a template can refer to: parameters, loop variables, captured values. All strings. */
export type Scope = Readonly<Record<string, string>>;

/**
 * {{placeholders}}, substituted inside one argv element at a time (never re-split, so a value
 * can never become two arguments). The grammar is deliberately tiny:
 *
 *   {{name}}                 the value
 *   {{name.address}}         the address half of an ipv4-cidr value (172.16.0.2/24 → 172.16.0.2)
 *   {{name.prefixlen}}       its prefix length (→ 24)
 *   {{ref + n}} {{ref + var}} addition: an integer, or an IPv4 address moved on by that many
 *                            (172.16.0.1 + 2 → 172.16.0.3), for per-container addresses in loops
 */
const placeholder = /\{\{\s*([a-z_][a-z0-9_]*)(?:\.(address|prefixlen))?\s*(?:\+\s*([a-z_][a-z0-9_]*|\d+)\s*)?\}\}/g;

/** The names a template refers to (used to validate runbooks before running). */
export function placeholdersIn(template: string): string[] {
  return [...template.matchAll(placeholder)].flatMap((m) => {
    const names = [m[1] as string];
    if (m[3] !== undefined && !/^\d+$/.test(m[3])) names.push(m[3]);
    return names;
  });
}

/** True when the text still contains something that looks like a placeholder but is not one. */
export function hasMalformedPlaceholder(template: string): boolean {
  return template.replace(placeholder, '').includes('{{');
}

/**
 * Substitutes every placeholder whose name is in scope. Names not in scope are left as they
 * are when `partial` (values captured at run time, substituted later by rollback).
 */
export function renderTemplate(
  template: string,
  scope: Scope,
  partial = false,
  escape: (value: string) => string = (value) => value,
): string {
  return template.replace(placeholder, (match, name: string, part: string | undefined, operand: string | undefined) => {
    const result = substitute(match, name, part, operand);
    // A placeholder left for later (partial) stays as written, so that it can still be filled.
    return result.startsWith('{{') && result.endsWith('}}') && scope[name] === undefined ? result : escape(result);
  });

  function substitute(match: string, name: string, part: string | undefined, operand: string | undefined): string {
    // Own properties only: a placeholder named constructor is not Object's constructor.
    const value = Object.hasOwn(scope, name) ? scope[name] : undefined;
    if (value === undefined) {
      if (!partial) throw new TemplateError(`no value for {{${name}}}`);
      // Left for later (a captured value), but with what is known now filled in, so that
      // {{previous + n}} in a loop becomes {{previous + 3}}: rollback knows captures, not n.
      const known = operand !== undefined && !/^\d+$/.test(operand) ? scope[operand] : undefined;
      return known === undefined ? match : `{{${name}${part === undefined ? '' : `.${part}`} + ${known}}}`;
    }
    let result = value;
    if (part === 'address') result = value.split('/')[0] ?? value;
    if (part === 'prefixlen') result = value.split('/')[1] ?? '';
    if (operand === undefined) return result;
    const amount = /^\d+$/.test(operand) ? operand : scope[operand];
    if (amount === undefined) {
      if (partial) return match; // the operand is a captured value: rollback adds it
      throw new TemplateError(`no value for {{${operand}}}`);
    }
    if (!/^-?\d+$/.test(amount)) throw new TemplateError(`${match}: "${amount}" is not a whole number`);
    return add(result, Number(amount), match);
  }
}

export class TemplateError extends Error {}

function add(base: string, amount: number, expression: string): string {
  if (/^-?\d+$/.test(base)) return String(Number(base) + amount);
  if (isIPv4(base)) {
    const n = base.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0) + amount;
    if (n > 0xffffffff) throw new TemplateError(`${expression} goes past 255.255.255.255`);
    if (n < 0) throw new TemplateError(`${expression} goes below 0.0.0.0`);
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
  }
  throw new TemplateError(`${expression}: "${base}" is neither a number nor an IPv4 address`);
}

/**
 * Renders every string inside an expectation (`expect`, `when`, and the JSON patterns in them).
 * Inside `output_matches` a value is escaped, so that it matches itself and nothing else: an
 * interface named `veth.1` or `a+b` is a name, not a pattern (issue 11). With `partial`, names
 * not in scope (captured values, filled in at run time) are left as they are (issue 12).
 */
export function renderDeep(value: unknown, scope: Scope, inRegex = false, partial = false): unknown {
  if (typeof value === 'string') return renderTemplate(value, scope, partial, inRegex ? escapeRegex : undefined);
  if (Array.isArray(value)) return value.map((item) => renderDeep(item, scope, false, partial));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, renderDeep(v, scope, k === 'output_matches', partial)]),
    );
  }
  return value;
}

/** `text` as a regular expression that matches exactly that text. */
export function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** Every string found inside a JSON-like value, for placeholder validation. */
export function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}
