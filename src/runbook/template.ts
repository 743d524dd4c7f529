import { isIPv4 } from 'node:net';
import { maxRenderedChars } from './limits.js';

/** Values a template can refer to: parameters, loop variables, captured values. All strings. */
export type Scope = Readonly<Record<string, string>>;

/**
 * {{placeholders}}, substituted inside one argv element at a time (never re-split, so a value
 * can never become two arguments). Inside the braces, a small expression:
 *
 *   {{name}}                  the value
 *   {{item.field}}            a field of a record (a loop over a list of records, issue 28)
 *   {{net.address}}           the address half of an ipv4-cidr value (172.16.0.2/24 → 172.16.0.2)
 *   {{net.prefixlen}}         its prefix length (→ 24)
 *   {{net.network}}           its network address (→ 172.16.0.0); also .broadcast, .netmask,
 *                             .subnet (→ 172.16.0.0/24), .host(n) (the n-th host address, n < 0
 *                             counts from the end) and .octet(i) (1 to 4) of any address
 *   {{a + n}} {{a - n}} {{n * 4}}
 *                             whole numbers, and addresses moved on or back by a whole number
 *                             (172.16.0.1 + 2 → 172.16.0.3); `*` binds tighter than + and -
 *
 * Names are lower-case; a record's fields are in scope as "item.field" (see bindRecord).
 */
const placeholder = /\{\{([^{}]*)\}\}/g;

/** The helpers an address value has, after its name (and fields): `{{net.network}}`. */
export const addressHelpers = ['address', 'prefixlen', 'network', 'broadcast', 'netmask', 'subnet'] as const;
/** The helpers that take an argument: `{{net.host(n)}}`, `{{ip.octet(4)}}`. */
export const addressCalls = ['host', 'octet'] as const;

type Part = { kind: 'name'; name: string } | { kind: 'call'; name: string; arg: Expr };
type Expr =
  | { kind: 'int'; value: number }
  | { kind: 'ip'; value: string }
  | { kind: 'ref'; name: string; parts: Part[] }
  | { kind: 'op'; op: '+' | '-' | '*'; left: Expr; right: Expr };

/** A name and the dotted parts after it, as written: what load-time checks look at. */
export interface Reference {
  name: string;
  /** `field` or helper names; a call is written with "()": ["address", "host()"]. */
  parts: string[];
}

// ---------------------------------------------------------------------------------------------
// Parsing (cached: the same few placeholders are rendered for every step of a large loop)

const parsed = new Map<string, Expr | null>();

function parse(inner: string): Expr | null {
  const known = parsed.get(inner);
  if (known !== undefined) return known;
  const expr = parseExpression(inner);
  if (parsed.size > 10_000) parsed.clear();
  parsed.set(inner, expr);
  return expr;
}

const token = /\s*(?:(\d+\.\d+\.\d+\.\d+)|(\d+)|([a-z_][a-z0-9_]*)|([.()+*-]))/y;

function parseExpression(text: string): Expr | null {
  const tokens: string[] = [];
  token.lastIndex = 0;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    token.lastIndex = at;
    const m = token.exec(text);
    if (m === null) return null;
    tokens.push((m[1] ?? m[2] ?? m[3] ?? m[4]) as string);
    at = token.lastIndex;
  }
  let i = 0;
  const peek = () => tokens[i];
  const sum = (): Expr | null => {
    let left = product();
    while (left !== null && (peek() === '+' || peek() === '-')) {
      const op = tokens[i++] as '+' | '-';
      const right = product();
      left = right === null ? null : { kind: 'op', op, left, right };
    }
    return left;
  };
  const product = (): Expr | null => {
    let left = factor();
    while (left !== null && peek() === '*') {
      i++;
      const right = factor();
      left = right === null ? null : { kind: 'op', op: '*', left, right };
    }
    return left;
  };
  const factor = (): Expr | null => {
    const t = tokens[i++];
    if (t === undefined) return null;
    if (/^\d+\.\d+\.\d+\.\d+$/.test(t)) return isIPv4(t) ? { kind: 'ip', value: t } : null;
    if (/^\d+$/.test(t)) return { kind: 'int', value: Number(t) };
    if (!/^[a-z_]/.test(t)) return null;
    const parts: Part[] = [];
    while (peek() === '.') {
      i++;
      const name = tokens[i++];
      if (name === undefined || !/^[a-z_][a-z0-9_]*$/.test(name)) return null;
      if (peek() !== '(') {
        parts.push({ kind: 'name', name });
        continue;
      }
      i++;
      // A leading minus counts from the end: host(-1) is the last host address.
      const negative = peek() === '-';
      if (negative) i++;
      const written = sum();
      if (written === null || tokens[i++] !== ')') return null;
      const arg: Expr = negative ? { kind: 'op', op: '-', left: { kind: 'int', value: 0 }, right: written } : written;
      parts.push({ kind: 'call', name, arg });
    }
    return { kind: 'ref', name: t, parts };
  };
  const expr = sum();
  return expr !== null && i === tokens.length ? expr : null;
}

function refsOf(expr: Expr): Array<Extract<Expr, { kind: 'ref' }>> {
  if (expr.kind === 'op') return [...refsOf(expr.left), ...refsOf(expr.right)];
  if (expr.kind !== 'ref') return [];
  return [expr, ...expr.parts.flatMap((p) => (p.kind === 'call' ? refsOf(p.arg) : []))];
}

/** The names a template refers to (used to validate runbooks before running). */
export function placeholdersIn(template: string): string[] {
  return referencesIn(template).map((r) => r.name);
}

/** Every name a template refers to, with the parts written after it. */
export function referencesIn(template: string): Reference[] {
  if (!template.includes('{{')) return [];
  const refs: Reference[] = [];
  for (const m of template.matchAll(placeholder)) {
    const expr = parse(m[1] as string);
    if (expr === null) continue;
    for (const ref of refsOf(expr))
      refs.push({ name: ref.name, parts: ref.parts.map((p) => (p.kind === 'call' ? `${p.name}()` : p.name)) });
  }
  return refs;
}

/** True when the text still contains something that looks like a placeholder but is not one. */
export function hasMalformedPlaceholder(template: string): boolean {
  if (!template.includes('{{')) return false;
  return template.replace(placeholder, (match, inner: string) => (parse(inner) === null ? match : '')).includes('{{');
}

// ---------------------------------------------------------------------------------------------
// Rendering

/**
 * Substitutes every placeholder. With `partial`, a placeholder naming something not in scope
 * (a value captured at run time, filled in later) is left for later, with what is known now
 * filled in: {{previous + n}} in a loop becomes {{previous + 3}}.
 */
export function renderTemplate(
  template: string,
  scope: Scope,
  partial = false,
  escape: (value: string) => string = (value) => value,
): string {
  if (!template.includes('{{')) return spent(template);
  // While a plan is rendered (withRenderBudget), how much longer than the template the text
  // grows: checked as each value goes in, so that a value repeated many times is refused before
  // the text is built (issue 22). Values known only at run time are not limited here: a file kept
  // for undo's stdin may be long, and a command's argv is checked before it runs.
  let grown = 0;
  const rendered = template.replace(placeholder, (match, inner: string) => {
    const text = fill(match, inner);
    grown += text.length - match.length;
    if (budget !== undefined && grown > 0 && template.length + grown > maxRenderedChars)
      throw new TemplateError(
        `"${template.length > 60 ? `${template.slice(0, 60)}…` : template}" would be more than ${maxRenderedChars.toLocaleString('en')} characters once its values are filled in`,
      );
    return text;
  });
  return spent(rendered);

  function fill(match: string, inner: string): string {
    const expr = parse(inner);
    if (expr === null) return match; // malformed: validation reports it before anything runs
    const missing = refsOf(expr).find((ref) => !Object.hasOwn(scope, ref.name));
    if (missing === undefined) return escape(evaluate(expr, scope, match));
    if (!partial) throw new TemplateError(`no value for {{${missing.name}}}`);
    return `{{${print(fillKnown(expr, scope, match))}}}`;
  }
}

export class TemplateError extends Error {}

/** The characters left for rendering a plan (withRenderBudget), if a budget is set. */
let budget: { size: number; left: number } | undefined;

/** `text`, counted against the plan's budget when one is set. */
function spent(text: string): string {
  if (budget === undefined) return text;
  budget.left -= text.length;
  if (budget.left < 0)
    throw new TemplateError(
      `its rendered plan would hold more than ${budget.size.toLocaleString('en')} characters of text (the values of its parameters, repeated in every step)`,
    );
  return text;
}

/**
 * Runs `work` (a plan's rendering, synchronous) allowing all the text it renders together at
 * most `chars` characters: past that, renderTemplate throws a TemplateError (issue 22).
 */
export function withRenderBudget<T>(chars: number, work: () => T): T {
  const outer = budget;
  budget = { size: chars, left: chars };
  try {
    return work();
  } finally {
    budget = outer;
  }
}

/** Operands of arithmetic: a whole number, or an IPv4 address as a number. */
type Operand = { int: number } | { ip: number };

function evaluate(expr: Expr, scope: Scope, match: string): string {
  if (expr.kind === 'int') return String(expr.value);
  if (expr.kind === 'ip') return expr.value;
  if (expr.kind === 'ref') return resolve(expr, scope, match);
  const left = operand(evaluate(expr.left, scope, match), match);
  const right = operand(evaluate(expr.right, scope, match), match);
  return arithmetic(expr.op, left, right, match);
}

function operand(value: string, match: string): Operand {
  if (/^-?\d+$/.test(value)) return { int: Number(value) };
  if (isIPv4(value)) return { ip: ipToNumber(value) };
  throw new TemplateError(`${match}: "${value}" is neither a number nor an IPv4 address`);
}

function arithmetic(op: '+' | '-' | '*', a: Operand, b: Operand, match: string): string {
  if ('int' in a && 'int' in b) {
    const n = op === '+' ? a.int + b.int : op === '-' ? a.int - b.int : a.int * b.int;
    if (!Number.isSafeInteger(n)) throw new TemplateError(`${match} is too large a number`);
    return String(n);
  }
  if (op === '*') throw new TemplateError(`${match}: only whole numbers can be multiplied, not an address`);
  if ('ip' in a && 'ip' in b) {
    if (op === '-') return String(a.ip - b.ip); // how many addresses apart
    throw new TemplateError(`${match}: two addresses cannot be added (add a number to an address)`);
  }
  // An address moved on (or back) by a whole number.
  const ip = 'ip' in a ? a.ip : (b as { ip: number }).ip;
  const int = 'int' in a ? a.int : (b as { int: number }).int;
  if (op === '-' && 'int' in a) throw new TemplateError(`${match}: an address cannot be taken from a number`);
  const n = op === '+' ? ip + int : ip - int;
  if (n > 0xffffffff) throw new TemplateError(`${match} goes past 255.255.255.255`);
  if (n < 0) throw new TemplateError(`${match} goes below 0.0.0.0`);
  return numberToIp(n);
}

/**
 * A reference's value: the longest dotted prefix in scope (a record's field, "item.mac"), then
 * the address helpers after it, in order.
 */
function resolve(ref: Extract<Expr, { kind: 'ref' }>, scope: Scope, match: string): string {
  let at = 0;
  let key = ref.name;
  for (let n = 0; n < ref.parts.length; n++) {
    const part = ref.parts[n] as Part;
    if (part.kind !== 'name') break;
    const longer = `${key}.${part.name}`;
    if (!Object.hasOwn(scope, longer)) break;
    key = longer;
    at = n + 1;
  }
  let value = scope[key] as string;
  for (const part of ref.parts.slice(at)) {
    const arg = part.kind === 'call' ? evaluate(part.arg, scope, match) : undefined;
    value = applyHelper(part.name, value, arg, match, key);
  }
  return value;
}

function applyHelper(helper: string, value: string, arg: string | undefined, match: string, of: string): string {
  // .address and .prefixlen split any value at "/", as they always have.
  if (helper === 'address' && arg === undefined) return value.split('/')[0] ?? value;
  if (helper === 'prefixlen' && arg === undefined) return value.split('/')[1] ?? '';
  if (helper === 'octet' && arg !== undefined) {
    const address = value.split('/')[0] ?? value;
    if (!isIPv4(address)) throw new TemplateError(`${match}: "${value}" is not an IPv4 address`);
    if (!/^[1-4]$/.test(arg)) throw new TemplateError(`${match}: an address has octets 1 to 4, not ${arg}`);
    return address.split('.')[Number(arg) - 1] as string;
  }
  const known = arg === undefined ? (addressHelpers as readonly string[]) : (addressCalls as readonly string[]);
  if (!known.includes(helper)) throw new TemplateError(`${match}: ${unknownPart(of, helper, arg !== undefined)}`);
  const net = parseCidr(value);
  if (net === undefined)
    throw new TemplateError(`${match}: "${value}" is not an IPv4 address with a prefix length (such as 172.16.0.0/24)`);
  const size = 2 ** (32 - net.prefixlen);
  const base = Math.floor(net.address / size) * size;
  switch (helper) {
    case 'network':
      return numberToIp(base);
    case 'broadcast':
      return numberToIp(base + size - 1);
    case 'netmask':
      return numberToIp(2 ** 32 - size);
    case 'subnet':
      return `${numberToIp(base)}/${net.prefixlen}`;
    default: {
      // host(n): the n-th usable address; /31 and /32 have no network or broadcast address.
      if (arg === undefined || !/^-?\d+$/.test(arg))
        throw new TemplateError(`${match}: host() takes a whole number, not "${arg ?? ''}"`);
      const first = net.prefixlen >= 31 ? base : base + 1;
      const count = net.prefixlen >= 31 ? size : size - 2;
      const n = Number(arg);
      const index = n < 0 ? count + n : n - 1;
      if (n === 0 || index < 0 || index >= count)
        throw new TemplateError(
          `${match}: ${numberToIp(base)}/${net.prefixlen} has ${count} host address${count === 1 ? '' : 'es'}, so host(${n}) is outside it`,
        );
      return numberToIp(first + index);
    }
  }
}

/** Why a part after a name is not one: shared by the renderer and the load-time check. */
export function unknownPart(of: string, part: string, call: boolean): string {
  const helpers = [...addressHelpers, ...addressCalls.map((c) => `${c}(n)`)].join(', ');
  const hint =
    part === 'prefix'
      ? ' (the prefix length is .prefixlen, the network with it .subnet)'
      : ` (an address has: ${helpers})`;
  return `${of} has no ${call ? `${part}()` : `.${part}`}${hint}`;
}

/** The known names of an expression filled in where the result stays an expression (numbers, addresses). */
function fillKnown(expr: Expr, scope: Scope, match: string): Expr {
  switch (expr.kind) {
    case 'int':
    case 'ip':
      return expr;
    case 'op':
      return { ...expr, left: fillKnown(expr.left, scope, match), right: fillKnown(expr.right, scope, match) };
    case 'ref': {
      if (!Object.hasOwn(scope, expr.name)) {
        const parts = expr.parts.map((p) => (p.kind === 'call' ? { ...p, arg: fillKnown(p.arg, scope, match) } : p));
        return { ...expr, parts };
      }
      const value = resolve(expr, scope, match);
      if (/^\d+$/.test(value)) return { kind: 'int', value: Number(value) };
      if (isIPv4(value)) return { kind: 'ip', value };
      throw new TemplateError(
        `${match}: a value known only at run time cannot be combined with ${expr.name} ("${value}") in one placeholder`,
      );
    }
  }
}

function print(expr: Expr): string {
  switch (expr.kind) {
    case 'int':
      return String(expr.value);
    case 'ip':
      return expr.value;
    case 'ref':
      return [expr.name, ...expr.parts.map((p) => (p.kind === 'call' ? `${p.name}(${print(p.arg)})` : p.name))].join(
        '.',
      );
    case 'op':
      return `${print(expr.left)} ${expr.op} ${print(expr.right)}`;
  }
}

function parseCidr(value: string): { address: number; prefixlen: number } | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(value);
  if (m === null || !isIPv4(m[1] as string) || Number(m[2]) > 32) return undefined;
  return { address: ipToNumber(m[1] as string), prefixlen: Number(m[2]) };
}

function ipToNumber(address: string): number {
  return address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/**
 * A record as scope entries: the record itself (its JSON) under `name`, and each field under
 * "name.field", so that {{name.field}} finds it.
 */
export function bindRecord(
  scope: Record<string, string>,
  name: string,
  record: Readonly<Record<string, string>>,
): void {
  scope[name] = JSON.stringify(record);
  for (const [field, value] of Object.entries(record)) scope[`${name}.${field}`] = value;
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
