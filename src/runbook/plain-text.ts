/**
 * Rules every parameter value obeys whatever its type (issue 11): it ends up in argv, in the
 * journal and on the terminal, so it must be plain text. A control character (a newline, an
 * escape sequence, NUL) could rewrite what a person reads on the terminal or in the journal.
 */

// C0 controls, DEL and C1 controls: nothing a name, an address or a number ever needs.
// eslint-disable-next-line no-control-regex
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/u;
// eslint-disable-next-line no-control-regex
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/gu;

/** Why `value` is not plain text, or undefined when it is. */
export function checkPlainText(value: string): string | undefined {
  const match = controlCharacter.exec(value);
  if (match === null) return undefined;
  const code = (match[0].codePointAt(0) ?? 0).toString(16).padStart(2, '0');
  return `it contains a control character (U+00${code.toUpperCase()} at position ${match.index + 1}): values must be plain text`;
}

/** `value` with control characters shown as \u escapes, and cut short: safe to print in a message. */
export function printable(value: string): string {
  if (value.length > 80) return `${printable(value.slice(0, 40))}… (${value.length} characters)`;
  return value.replace(controlCharacters, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

/**
 * Network namespace names are file names under /run/netns: at most NAME_MAX (255) bytes; `ip
 * netns add` refuses 256. A longer name used to fail mid-run with a wrong cause.
 */
export const maxNameBytes = 255;
