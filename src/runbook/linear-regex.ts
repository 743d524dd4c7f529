import { RE2JS } from 're2js';

/**
 * `output_matches` patterns run on RE2's engine (re2js, a pure-JS port): matching takes time
 * linear in the output, whatever the pattern. JavaScript's backtracking RegExp spins forever on
 * `^(a+)+$` against a long line, holding the lock and deaf to SIGINT (issue 11). RE2 has no
 * backreferences or lookaround, so such a pattern is refused when the runbook is read.
 */
const compiled = new Map<string, RE2JS>();

function compile(source: string): RE2JS {
  let pattern = compiled.get(source);
  if (pattern === undefined) {
    // MULTILINE: ^ and $ match at every line, as the format documents.
    pattern = RE2JS.compile(source, RE2JS.MULTILINE);
    compiled.set(source, pattern);
  }
  return pattern;
}

/** Whether `text` contains a match of `source` (RE2 syntax, ^ and $ at each line). */
export function matchesLinear(source: string, text: string): boolean {
  return compile(source).matcher(text).find();
}

/** Why `source` is not a pattern RE2 accepts, or undefined when it is. */
export function linearRegexProblem(source: string): string | undefined {
  try {
    compile(source);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** The first match of `source` in `text` (^ and $ at each line): the whole match and group 1. */
export function firstMatchLinear(
  source: string,
  text: string,
): { match: string; group1: string | undefined; groups: number } | undefined {
  const matcher = compile(source).matcher(text);
  if (!matcher.find()) return undefined;
  const groups = matcher.groupCount();
  return { match: matcher.group(0) ?? '', group1: groups > 0 ? (matcher.group(1) ?? undefined) : undefined, groups };
}

/** Whether `pattern` matches the whole of `value` (no multi-line mode). */
export function matchesWholeLinear(pattern: string, value: string): boolean {
  let whole = compiledWhole.get(pattern);
  if (whole === undefined) {
    whole = RE2JS.compile(pattern);
    compiledWhole.set(pattern, whole);
  }
  return whole.matches(value);
}
const compiledWhole = new Map<string, RE2JS>();
