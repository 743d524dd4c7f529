import type { CommandResult } from '../exec/types.js';
import type { ExpectSpec } from '../plan/plan.js';
import { matchesLinear } from '../runbook/linear-regex.js';

/** Whether a command's result shows what was expected, and if not, why not. */
export interface Verdict {
  ok: boolean;
  /** Why it failed (or, for `not`, why the inner expectation held). */
  reason: string;
  /** The line of output that matters, for messages and diagnoses. */
  evidence: string | undefined;
}

/**
 * Evaluates an expectation against a result. Every field present must hold:
 * - `exit`: a number, "nonzero" or "any" (default 0);
 * - `output_contains` / `output_matches`: text or a regex, searched in stdout + stderr;
 * - `json`: the parsed stdout matches this pattern (see matchesJson);
 * - `not`: the inner expectation does not hold.
 */
export function evaluate(expect: ExpectSpec, result: CommandResult): Verdict {
  const output = result.stdout + result.stderr;
  const fail = (reason: string, evidence = firstLine(output)): Verdict => ({
    ok: false,
    reason,
    evidence: shorten(evidence),
  });

  if (result.startError !== undefined) return fail(`could not start: ${result.startError}`);
  if (result.timedOut) return fail(`timed out after ${result.durationMs} ms`);
  const exit = expect.exit ?? 0;
  if (exit !== 'any') {
    const code = result.exitCode;
    const exitOk = exit === 'nonzero' ? code !== undefined && code !== 0 : code === exit;
    if (!exitOk) {
      const wanted = exit === 'nonzero' ? 'a non-zero exit status' : `exit status ${exit}`;
      return fail(`expected ${wanted}, got ${code === undefined ? `signal ${result.signal}` : code}`);
    }
  }
  if (expect.output_contains !== undefined && !output.includes(expect.output_contains)) {
    return fail(`output does not contain "${expect.output_contains}"`);
  }
  if (expect.output_matches !== undefined && !matchesLinear(expect.output_matches, output)) {
    return fail(`output does not match /${expect.output_matches}/`);
  }
  if (expect.json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(result.stdout.trim() === '' ? 'null' : result.stdout);
    } catch {
      return fail('output is not JSON');
    }
    if (!matchesJson(expect.json, parsed))
      return fail(`output does not match ${JSON.stringify(expect.json)}`, jsonMismatch(expect.json, parsed));
  }
  if (expect.not !== undefined && evaluate(expect.not, result).ok) {
    // The evidence is the line that matched (say, the route that is in the way), not line one.
    return fail(`output matches what it must not: ${JSON.stringify(expect.not)}`, matchingLine(expect.not, output));
  }
  return { ok: true, reason: 'as expected', evidence: shorten(matchingLine(expect, output)) };
}

/**
 * Partial matching on `ip -j` output, so a check states only what the step promised:
 * an object pattern matches an object having at least those keys with matching values;
 * an array pattern matches an array in which each pattern element matches some element;
 * an object pattern against an array matches when some element matches (`ip -j` lists);
 * scalars match when their string forms are equal (parameters are strings, JSON has numbers).
 */
export function matchesJson(pattern: unknown, actual: unknown): boolean {
  if (Array.isArray(pattern)) {
    return Array.isArray(actual) && pattern.every((p) => actual.some((a) => matchesJson(p, a)));
  }
  if (pattern !== null && typeof pattern === 'object') {
    if (Array.isArray(actual)) return actual.some((a) => matchesJson(pattern, a));
    if (actual === null || typeof actual !== 'object') return false;
    const record = actual as Record<string, unknown>;
    return Object.entries(pattern).every(([key, p]) => Object.hasOwn(record, key) && matchesJson(p, record[key]));
  }
  if (actual === null || typeof actual === 'object') return pattern === actual;
  return String(pattern) === String(actual);
}

/** Evidence is one line a person reads: at most this many characters of it. */
const maxEvidenceChars = 120;

function shorten(line: string | undefined): string | undefined {
  if (line === undefined || line.length <= maxEvidenceChars) return line;
  return `${line.slice(0, maxEvidenceChars - 1)}…`;
}

/**
 * What matters in a JSON output that does not match: the first key whose value differs, or is
 * missing, with what was expected (`link: "vpeer", expected "ceth1"`), not the whole document.
 */
export function jsonMismatch(pattern: unknown, actual: unknown, at = ''): string {
  const here = at === '' ? 'the output' : at;
  if (Array.isArray(actual) && !Array.isArray(pattern)) {
    if (actual.length === 0) return `${here} is an empty list`;
    if (actual.length === 1) return jsonMismatch(pattern, actual[0], at);
    return `no element of ${here} matches`;
  }
  if (pattern !== null && typeof pattern === 'object' && !Array.isArray(pattern)) {
    if (actual === null || typeof actual !== 'object') return `${here} is ${JSON.stringify(actual)}, not an object`;
    const record = actual as Record<string, unknown>;
    for (const [key, p] of Object.entries(pattern)) {
      const path = at === '' ? key : `${at}.${key}`;
      if (!Object.hasOwn(record, key)) return `${path} is missing, expected ${JSON.stringify(p)}`;
      if (!matchesJson(p, record[key])) return jsonMismatch(p, record[key], path);
    }
  }
  return `${here}: ${JSON.stringify(actual)}, expected ${JSON.stringify(pattern)}`;
}

function firstLine(text: string): string | undefined {
  const line = text.split('\n').find((l) => l.trim() !== '');
  return line?.trim();
}

/** For a met expectation, the line that shows it (the line that contains or matches). */
function matchingLine(expect: ExpectSpec, output: string): string | undefined {
  const lines = output.split('\n');
  if (expect.output_contains !== undefined)
    return lines.find((l) => l.includes(expect.output_contains as string))?.trim();
  if (expect.output_matches !== undefined) {
    const source = expect.output_matches;
    return lines.find((l) => matchesLinear(source, l))?.trim();
  }
  return firstLine(output);
}
