/**
 * Every environment variable runbook reads or sets, by name, in one place, and the one place
 * below src/cli that reads the environment (src/exec hands it on to the programs it spawns).
 * What the CLI renders for the user (where they type, as whom) is read in src/cli only
 * (src/cli/render-advice.ts); what is read here are facts the engine acts on. `npm run lint`
 * refuses `process.env` anywhere else. Kept free of imports: `runbook --version` loads this
 * file too.
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
   * suggest are written (src/cli/render-advice.ts).
   */
  enteredWith: 'RUNBOOK_ENTERED_WITH',
  /** The `--state-dir` given to `--in` or `sandbox shell -c`: suggestions repeat it to find the sandbox. */
  outerStateDir: 'RUNBOOK_OUTER_STATE_DIR',
  /**
   * `off`: parse and validate the runbook on every run and check, and neither read nor write
   * <state-dir>/plans/ (src/runbook/plan-cache.ts). For measuring, or a cache you do not want.
   */
  planCache: 'RUNBOOK_PLAN_CACHE',
  /**
   * The most steps a plan may have once its loops are expanded (default 10,000; src/runbook/limits.ts):
   * a larger plan is refused with exit 2 before it is expanded (issue 22).
   */
  maxSteps: 'RUNBOOK_MAX_STEPS',
  /** Fault injection for the crash sweep: `entry:N`, `command:N` or `after:TYPE[:STEP]` (src/fault/kill-points.ts). */
  faultKill: 'RUNBOOK_FAULT_KILL',
  /** The same, for the process that reverts a run at its deadline only (src/cli/revert-launch.ts). */
  watchdogFaultKill: 'RUNBOOK_WATCHDOG_FAULT_KILL',
  /**
   * What keeps a `--confirm-within` deadline (src/cli/revert-launch.ts): `timer` (a systemd
   * transient timer), `watchdog` (a detached process), or unset: a timer where systemd is init
   * and can act on this host, a watchdog elsewhere. For tests, and for operators who know.
   */
  revertGuard: 'RUNBOOK_REVERT_GUARD',
  /** For a process re-executed by `--in`: the network namespace it must be in… */
  inNetns: 'RUNBOOK_IN_NETNS',
  /** …and the one it came from, which it must not be in. */
  inOuterNetns: 'RUNBOOK_IN_OUTER_NETNS',
  /**
   * For a process started inside a persistent sandbox by `--in` or `sandbox shell`: the working
   * directory of the user who typed it, entered first, so that `./runbooks` and relative paths
   * mean inside what they mean outside (issue 26).
   */
  inCwd: 'RUNBOOK_IN_CWD',
  /** …and which directory that is (`dev:inode`): a same-named one inside is not it. */
  inCwdId: 'RUNBOOK_IN_CWD_ID',
  /** For the process `run --sandbox` re-executed in fresh namespaces: the one it came from. */
  oneShotOuterNetns: 'RUNBOOK_ONE_SHOT_OUTER_NETNS',
  /** Set by sudo: the invoking user, recorded with each run (src/host/identity.ts)… */
  sudoUser: 'SUDO_USER',
  /** …and their uid, trusted under sudo when they own the code (src/trust/trusted-users.ts). */
  sudoUid: 'SUDO_UID',
  /** Set by npm exec (npx) to `exec`: with the next, the user typed `npx runbook` (src/cli/render-advice.ts). */
  npmCommand: 'npm_command',
  /** …and to the command it runs, quoted (`'runbook'`): not runbook when npx ran a test runner, say. */
  npmScript: 'npm_lifecycle_script',
  /** Where programs are looked up before a run (src/host/preflight.ts). */
  path: 'PATH',
} as const;

/** The value of one of runbook's variables, as set (undefined when unset). */
export function readEnv(name: keyof typeof envVar): string | undefined {
  return process.env[envVar[name]];
}

/** Every variable of this process, for a process it starts (the watchdog) or a parameter default. */
export function processEnv(): NodeJS.ProcessEnv {
  return process.env;
}

/** Forgets a variable, so that processes started from now on do not inherit it. */
export function unsetEnv(name: keyof typeof envVar): void {
  delete process.env[envVar[name]];
}
