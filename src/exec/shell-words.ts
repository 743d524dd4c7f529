import { quote } from 'shell-quote';

/** The command line a person could paste into a shell to run the same argv. */
export function toShellLine(argv: readonly string[]): string {
  return quote([...argv]);
}
