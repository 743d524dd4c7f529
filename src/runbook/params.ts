import { isIPv4 } from 'node:net';
import { invalidInput } from '../errors.js';
import { canonicalRecords, checkExtendedValue, defaultText, extendedTypes, recordsOf } from './param-types.js';
import type { ParamSpec, ParamType } from './schema.js';
import { checkPlainText, maxNameBytes, printable } from './plain-text.js';
import { forUser } from '../host/user-command.js';

/** Parameter values after validation, always as strings (they end up in argv). */
export type ParamValues = Readonly<Record<string, string>>;

/** Why `value` is not a valid `type`, or undefined when it is. */
export function checkParamValue(
  type: ParamType,
  value: string,
  spec?: Pick<ParamSpec, 'min' | 'max'> & Partial<ParamSpec>,
): string | undefined {
  // string, path, enum, mac and lists: param-types.ts.
  if (extendedTypes.has(type)) return checkExtendedValue({ ...spec, type }, value);
  // No type takes a control character: the type's own message first, when it has one.
  return checkNetworkValue(type, value, spec) ?? checkPlainText(value);
}

function checkNetworkValue(
  type: ParamType,
  value: string,
  spec?: Pick<ParamSpec, 'min' | 'max'> & Partial<ParamSpec>,
): string | undefined {
  switch (type) {
    case 'name':
      if (value === '.' || value === '..') return 'a name cannot be "." or ".." (ip netns refuses them)';
      if (Buffer.byteLength(value) > maxNameBytes)
        return `a name is at most ${maxNameBytes} characters (a network namespace name is a file name)`;
      return /^[A-Za-z0-9._-]+$/.test(value)
        ? undefined
        : 'expected a name: letters, digits, ".", "_" or "-", not empty';
    case 'interface':
      // The kernel's rules (dev_valid_name): 1-15 bytes, not "." or "..", no "/", ":" or whitespace.
      if (value.length === 0 || Buffer.byteLength(value) > 15)
        return 'expected an interface name of 1 to 15 characters';
      if (value === '.' || value === '..') return 'an interface cannot be named "." or ".."';
      if (/[/:\s]/.test(value)) return 'an interface name cannot contain "/", ":" or whitespace';
      // `ip link add name v%d` makes the kernel pick the name (v0, v1, …): the run could not
      // know which link it made, and its undo would look for "v%d" and leak it.
      if (value.includes('%'))
        return 'an interface name cannot contain "%" (the kernel reads v%d as "pick a free name")';
      return undefined;
    case 'ipv4':
      return isIPv4(value) ? undefined : 'expected an IPv4 address such as 10.0.0.10';
    case 'ipv4-cidr':
    case 'ipv4-network': {
      // No leading zeros in the prefix length: `ip` rejects /08 and reads /07 as 7, which a
      // verify comparing "07" with the kernel's 7 would then never see.
      const match = /^([^/]+)\/(0|[1-9]\d?)$/.exec(value);
      if (match === null || !isIPv4(match[1] ?? '') || Number(match[2]) > 32) {
        return `expected an IPv4 address with prefix length, such as ${type === 'ipv4-network' ? '172.16.0.0/24' : '172.16.0.2/24'}`;
      }
      if (type === 'ipv4-network' && match[2] === '0') {
        return 'expected a network smaller than the whole IPv4 space: a route to 0.0.0.0/0 is a default route';
      }
      if (type === 'ipv4-network' && hostBits(match[1] as string, Number(match[2])) !== 0) {
        return 'expected a network address: the bits after the prefix length must be zero (the kernel refuses a route to 172.16.0.9/24)';
      }
      return undefined;
    }
    case 'integer': {
      if (!/^-?\d+$/.test(value)) return 'expected a whole number';
      const n = Number(value);
      if (spec?.min !== undefined && n < spec.min) return `expected at least ${spec.min}`;
      if (spec?.max !== undefined && n > spec.max) return `expected at most ${spec.max}`;
      return undefined;
    }
    default:
      return undefined; // handled above
  }
}

/** The address's bits after the first `prefixlen` bits, as a number (0 for a network address). */
function hostBits(address: string, prefixlen: number): number {
  const n = address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  return prefixlen === 32 ? 0 : n % 2 ** (32 - prefixlen);
}

export interface ResolveOptions {
  /** Inside a sandbox host: `sandbox_default` is the default. */
  inSandbox?: boolean | undefined;
  /** How the user named the runbook (a name, or a path), for the hint (issue 28). */
  shownAs?: string | undefined;
  /** For `show`: a value to stand in for a parameter that has none, instead of refusing. */
  standIn?: ((key: string, spec: ParamSpec) => string | undefined) | undefined;
}

/** Parses repeated `--set key=value` flags into a map; a malformed one is invalid input. */
export function parseSetFlags(flags: readonly string[]): Record<string, string> {
  // No prototype: `--set __proto__=x` is a key like any other (and an unknown one).
  const values: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) {
      throw invalidInput(`malformed --set "${flag}": expected key=value`, 'for example: --set container=web1');
    }
    values[flag.slice(0, eq)] = flag.slice(eq + 1);
  }
  return values;
}

/**
 * Merges defaults with overrides and validates every value against its declared type.
 * All problems are reported at once, so the user can fix them in one go.
 */
export function resolveParams(
  runbook: { name: string; parameters: Record<string, ParamSpec> },
  overrides: Readonly<Record<string, string>>,
  source: string,
  options: ResolveOptions = {},
): ParamValues {
  const problems: string[] = [];
  const values: Record<string, string> = {};
  for (const key of Object.keys(overrides)) {
    // Own properties only: `constructor` or `toString` is not a parameter of every runbook.
    if (!Object.hasOwn(runbook.parameters, key)) {
      const known = Object.keys(runbook.parameters).join(', ') || '(none)';
      problems.push(`unknown parameter "${printable(key)}" (runbook ${runbook.name} takes: ${known})`);
    }
  }
  for (const [key, spec] of Object.entries(runbook.parameters)) {
    const given = Object.hasOwn(overrides, key) ? overrides[key] : undefined;
    const fallback = options.inSandbox && spec.sandbox_default !== undefined ? spec.sandbox_default : spec.default;
    const written = fallback === undefined ? undefined : defaultText(fallback);
    if (typeof written === 'object') {
      problems.push(`default of "${key}" in ${source}: ${written.problem}`);
      continue;
    }
    const value = given ?? written;
    if (value === undefined) {
      // `show` runs nothing: it shows a stand-in rather than refusing (issue 28).
      const standIn = options.standIn?.(key, spec);
      if (standIn !== undefined) {
        values[key] = standIn;
        continue;
      }
      problems.push(`parameter "${key}" has no default and was not given: use --set ${key}=…`);
      continue;
    }
    const problem = checkPlainText(value) ?? checkParamValue(spec.type, value, spec);
    if (problem !== undefined) {
      const shown = printable(value);
      const origin = given === undefined ? `default of "${key}" in ${source}` : `--set ${key}=${shown}`;
      problems.push(`${origin}: "${shown}" is not a valid ${spec.type}: ${problem}`);
      continue;
    }
    // A list of records has one text whatever way it was written (defaults filled in), so the
    // plan cache, the journal and `show` see the same value.
    const records = spec.of === 'record' ? recordsOf(spec, value) : undefined;
    values[key] = records === undefined || 'problem' in records ? value : canonicalRecords(records);
  }
  if (problems.length > 0) {
    throw invalidInput(
      problems.join('\n'),
      `see the parameters with: ${forUser(`runbook show ${options.shownAs ?? runbook.name}`)}`,
    );
  }
  return values;
}
