/**
 * Every environment variable runbook reads or sets, by name, in one place. Kept free of
 * imports: `runbook --version` loads this file too.
 */
export const envVar = {
  /** Where runs and journals are kept, when --state-dir is not given (src/cli/state-dir.ts). */
  stateDir: 'RUNBOOK_STATE_DIR',
  /** Extra runbook directories, colon-separated like $PATH (src/runbook/search-path.ts). */
  runbookPath: 'RUNBOOK_PATH',
  /** Set inside a sandbox host to that sandbox's name, so runs made there are bound to it. */
  sandbox: 'RUNBOOK_SANDBOX',
  /**
   * How a process inside a persistent sandbox was started: `in` (its user is outside: `--in`,
   * `sandbox shell -c`) or `shell` (an interactive sandbox shell). Decides how the commands we
   * suggest are written (src/host/user-command.ts).
   */
  enteredWith: 'RUNBOOK_ENTERED_WITH',
  /** The `--state-dir` given to `--in` or `sandbox shell -c`: suggestions repeat it to find the sandbox. */
  outerStateDir: 'RUNBOOK_OUTER_STATE_DIR',
  /**
   * `off`: parse and validate the runbook on every run and check, and neither read nor write
   * <state-dir>/plans/ (src/runbook/plan-cache.ts). For measuring, or a cache you do not want.
   */
  planCache: 'RUNBOOK_PLAN_CACHE',
  /** Fault injection for the crash sweep: `entry:N`, `command:N` or `after:TYPE[:STEP]` (src/fault/kill-points.ts). */
  faultKill: 'RUNBOOK_FAULT_KILL',
  /** The same, for the confirm-within watchdog only (src/engine/watchdog.ts). */
  watchdogFaultKill: 'RUNBOOK_WATCHDOG_FAULT_KILL',
  /** For a process re-executed by `--in`: the network namespace it must be in… */
  inNetns: 'RUNBOOK_IN_NETNS',
  /** …and the one it came from, which it must not be in. */
  inOuterNetns: 'RUNBOOK_IN_OUTER_NETNS',
  /** For the process `run --sandbox` re-executed in fresh namespaces: the one it came from. */
  oneShotOuterNetns: 'RUNBOOK_ONE_SHOT_OUTER_NETNS',
} as const;

/** The value of one of runbook's variables, as set (undefined when unset). */
export function readEnv(name: keyof typeof envVar): string | undefined {
  return process.env[envVar[name]];
}
