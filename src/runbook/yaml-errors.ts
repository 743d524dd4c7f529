import { isScalar, type Document, type LineCounter } from 'yaml';
import type { z } from 'zod';

/**
 * Schema problems as a person can act on them (issue 11): each names the field, the line and
 * column in the file, and, for a value YAML read as a number or boolean where text is needed,
 * says to quote it.
 */

type Issue = z.core.$ZodIssue;

/**
 * The issues that say what is wrong. A union (a command is an argv array or a map) reports
 * "Invalid input" on its own; the branch whose problem lies deepest is the one the author
 * meant (an array with a bad element, rather than "not a map"), so its issues are used.
 */
export function specificIssues(issue: Issue): Issue[] {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [issue];
  const depth = (branch: readonly Issue[]) => Math.max(...branch.map((i) => i.path.length));
  const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0] ?? [];
  return best.flatMap((inner) => specificIssues({ ...inner, path: [...issue.path, ...inner.path] } as Issue));
}

/** "line L, column C" of the node at `path`, or of its nearest ancestor the document has. */
export function position(doc: Document, lines: LineCounter, path: readonly PropertyKey[]): string | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range !== undefined) {
      const { line, col } = lines.linePos(node.range[0]);
      return `line ${line}, column ${col}`;
    }
  }
  return undefined;
}

/** The advice for a value YAML did not read as text: quote it. */
function quoteAdvice(doc: Document, issue: Issue): string | undefined {
  if (issue.code !== 'invalid_type' || issue.expected !== 'string') return undefined;
  if (issue.message.includes('quote')) return undefined; // the schema's own message already says how
  const node = doc.getIn(issue.path as unknown[], true);
  if (!isScalar(node) || typeof node.value === 'string') return undefined;
  const text = typeof node.source === 'string' ? node.source : String(node.value);
  const kind = node.value === null ? 'nothing (null)' : `a ${typeof node.value}`;
  return `YAML reads ${text} as ${kind}, not text: quote it: "${text}"`;
}

/** One line per problem: `  steps[0].do[0][3]: … (line 24, column 26)`. */
export function formatSchemaIssues(
  issues: readonly Issue[],
  doc: Document,
  lines: LineCounter,
  formatPath: (path: readonly PropertyKey[]) => string,
  hint: (issue: Issue) => string = () => '',
): string {
  return issues
    .flatMap(specificIssues)
    .map((issue) => {
      const where = position(doc, lines, issue.path);
      const message = quoteAdvice(doc, issue) ?? issue.message;
      return `  ${formatPath(issue.path)}: ${message}${hint(issue)}${where === undefined ? '' : ` (${where})`}`;
    })
    .join('\n');
}
