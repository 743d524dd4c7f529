import { RunbookError } from '../errors.js';

/**
 * The command line that starts this very program again (bin/runbook.js, dist/, or the one-file
 * bundle): the node binary running us and the script it runs, then `args`. The one place that
 * knows how runbook re-executes itself (issue 27) — inside a sandbox's namespaces (`--in`,
 * `run --sandbox`), in a sandbox shell's `runbook` function, and for the process that reverts
 * an unconfirmed run at its deadline (a detached watchdog or a systemd timer's service).
 */
export function selfArgv(args: readonly string[] = []): string[] {
  const script = process.argv[1];
  if (script === undefined) throw new RunbookError('internal', 'cannot find the runbook script to run it again');
  return [process.execPath, script, ...args];
}
