/**
 * Rules every parameter value obeys whatever its type (issue 11): it ends up in argv, in the
 * journal and on the terminal, so it must be plain text. A control character (a newline, an
 * escape sequence, NUL) could rewrite what a person reads on the terminal or in the journal.
 */

// Control characters (C0, DEL, C1) and the invisible ones that change how text reads: format
// characters (zero-width spaces and joiners, bidi overrides such as U+202E) and the line and
// paragraph separators. With one, "veth1" on the screen may be another name in the kernel.
const controlCharacter = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const controlCharacters = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** Why `value` is not plain text, or undefined when it is. */
export function checkPlainText(value: string): string | undefined {
  const match = controlCharacter.exec(value);
  if (match === null) return undefined;
  const code = (match[0].codePointAt(0) ?? 0).toString(16).padStart(4, '0').toUpperCase();
  return `it contains a control or invisible character (U+${code} at position ${match.index + 1}): values must be plain text`;
}

/** `value` with control characters shown as \u escapes, and cut short: safe to print in a message. */
export function printable(value: string): string {
  if (value.length > 80) return `${printable(value.slice(0, 40))}… (${value.length} characters)`;
  return escapeControls(value);
}

/** `value` with control and invisible characters shown as \u escapes, whole: safe to draw. */
export function escapeControls(value: string): string {
  return value.replace(controlCharacters, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}

/**
 * Network namespace names are file names under /run/netns: at most NAME_MAX (255) bytes; `ip
 * netns add` refuses 256. A longer name used to fail mid-run with a wrong cause.
 */
export const maxNameBytes = 255;

// What a terminal may act on rather than show: every control character but the line break and
// the tab, and the invisible ones (as above).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const terminalControls = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * `text` safe to write to a terminal (issue 22): every control or invisible character shown as
 * a \uXXXX escape, as `printable` shows a --set value, except line breaks and tabs. Text that
 * came from the kernel (an address label a container's root set), a file or another user can
 * then neither move the cursor, clear the screen, set the window title nor reorder what a
 * person reads. JSON stays valid JSON with the same value: inside a string, \uXXXX is the same
 * character, and JSON's own whitespace is only line breaks, tabs and spaces.
 */
export function terminalSafe(text: string): string {
  terminalControls.lastIndex = 0;
  if (!terminalControls.test(text)) return text;
  return text.replace(terminalControls, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
}
