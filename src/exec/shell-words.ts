/** Characters that never need quoting in a POSIX shell word. */
const safeWord = /^[A-Za-z0-9_\-.,:/@%+=^]+$/;

/**
 * The command line a person could paste into a shell to run the same argv. Words are quoted
 * only when needed, with single quotes, so `sysctl -w net.ipv4.ip_forward=1` reads as typed.
 */
export function toShellLine(argv: readonly string[]): string {
  return argv.map((word) => (safeWord.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ');
}
