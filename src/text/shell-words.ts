/** Characters that never need quoting in a POSIX shell word. */
const safeWord = /^[A-Za-z0-9_\-.,:/@%+=^]+$/;

/** True when `text` is one plain command line (words needing no quotes), not prose around one. */
export function isPlainCommandLine(text: string): boolean {
  const words = text.trim().split(/\s+/);
  return words.length > 0 && words.every((word) => safeWord.test(word));
}

/**
 * The command line a person could paste into a shell to run the same argv. Words are quoted
 * only when needed, with single quotes, so `sysctl -w net.ipv4.ip_forward=1` reads as typed.
 */
export function toShellLine(argv: readonly string[]): string {
  return argv.map((word) => (safeWord.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}
