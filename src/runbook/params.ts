import { invalidInput } from '../errors.js';
import { canonicalRecords, checkParamValue, defaultText, recordsOf } from './param-types.js';
import type { ParamSpec } from './schema.js';
import { checkPlainText, printable } from '../text/plain-text.js';
import { advice, runbookCommand } from '../suggestion.js';
import type { ParamValues } from '../plan/plan.js';
import { maxValueChars } from './limits.js';

/** Parameter values after validation, always as strings (they end up in argv). */
export type { ParamValues };

export { checkParamValue };

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
    const problem =
      value.length > maxValueChars
        ? `it is ${value.length.toLocaleString('en')} characters long; a value is at most ${maxValueChars.toLocaleString('en')}`
        : (checkPlainText(value) ?? checkParamValue(spec.type, value, spec));
    if (problem !== undefined) {
      const shown = printable(value);
      const origin = given === undefined ? `default of "${key}" in ${source}` : `--set ${key}=${shown}`;
      // "30" is a valid integer: out of a parameter's range is said as such (issue 26).
      const outOfRange = spec.type === 'integer' && /^expected at (most|least) /.test(problem);
      problems.push(
        `${origin}: "${shown}" ${outOfRange ? `is out of range for ${key}` : `is not a valid ${spec.type}`}: ${problem}`,
      );
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
      advice`see the parameters with: ${runbookCommand('show', options.shownAs ?? runbook.name)}`,
    );
  }
  return values;
}
