import type { ParamValues } from './params.js';

/**
 * {{param}} placeholders, substituted inside one argv element at a time (never re-split, so a
 * value can never become two arguments). `{{p.address}}` and `{{p.prefixlen}}` take the two
 * halves of an ipv4-cidr value.
 */
const placeholder = /\{\{\s*([a-z_][a-z0-9_]*)(?:\.(address|prefixlen))?\s*\}\}/g;

/** The parameter names a template refers to (used to validate runbooks before running). */
export function placeholdersIn(template: string): string[] {
  return [...template.matchAll(placeholder)].map((m) => m[1] as string);
}

/** True when the text still contains something that looks like a placeholder but is not one. */
export function hasMalformedPlaceholder(template: string): boolean {
  return template.replace(placeholder, '').includes('{{');
}

export function renderTemplate(template: string, values: ParamValues): string {
  return template.replace(placeholder, (_match, name: string, part?: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for {{${name}}}`); // prevented by validation
    if (part === 'address') return value.split('/')[0] ?? value;
    if (part === 'prefixlen') return value.split('/')[1] ?? '';
    return value;
  });
}

/** Renders every string inside a JSON-like value (used for `json:` expectations). */
export function renderDeep(value: unknown, values: ParamValues): unknown {
  if (typeof value === 'string') return renderTemplate(value, values);
  if (Array.isArray(value)) return value.map((item) => renderDeep(item, values));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, values)]));
  }
  return value;
}

/** Every string found inside a JSON-like value, for placeholder validation. */
export function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}
