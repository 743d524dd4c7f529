/**
 * systemd transient timers (`systemd-run --on-active`), for the deadline of a run made with
 * `--confirm-within` (issue 24): systemd keeps the deadline and starts the revert as root, so
 * no process of ours has to stay alive for it — killing runbook, or every process it left,
 * does not cancel it. Found on PATH like any program (a test puts a fake `systemd-run` and
 * `systemctl` first). execa is loaded on first use: `runs` reads whether a timer is active, and
 * most runs never have one.
 */

async function execa(
  file: string,
  args: readonly string[],
  options: { reject: false; stdin: 'ignore'; timeout: number },
) {
  const { execa: run } = await import('execa');
  return run(file, args, options);
}

export interface TransientTimer {
  /** The unit's name, without `.timer` / `.service`. */
  unit: string;
  /** Shown by `systemctl list-timers` and in the journal of the service. */
  description: string;
  /** How long from now the service starts. */
  inMs: number;
  /** What the service runs (absolute paths: the service's PATH is systemd's). */
  argv: readonly string[];
  /** Variables set in the service's environment (systemd gives it almost none of ours). */
  setenv: Readonly<Record<string, string>>;
}

/** The `systemd-run` command line that arms `timer` (exported for the docs and the tests). */
export function transientTimerArgv(timer: TransientTimer): string[] {
  return [
    'systemd-run',
    '--quiet',
    `--unit=${timer.unit}`,
    `--description=${timer.description}`,
    // systemd's default accuracy is a minute: a revert due in 30 s could wait 90.
    `--on-active=${Math.max(1, Math.ceil(timer.inMs))}ms`,
    '--timer-property=AccuracySec=100ms',
    // The service unit is unloaded once it has run, failed or not (its log stays in journald).
    '--collect',
    ...Object.entries(timer.setenv).map(([name, value]) => `--setenv=${name}=${value}`),
    '--',
    ...timer.argv,
  ];
}

/** Arms the timer; throws with systemd-run's own words if it cannot. */
export async function startTransientTimer(timer: TransientTimer): Promise<void> {
  const [file, ...args] = transientTimerArgv(timer);
  const result = await execa(file as string, args, { reject: false, stdin: 'ignore', timeout: 30_000 });
  if (result.exitCode !== 0) {
    const said = `${result.stderr}`.trim() || `${result.stdout}`.trim();
    throw new Error(
      `systemd-run ${result.failed && result.exitCode === undefined ? `could not run: ${result.shortMessage}` : `exited ${result.exitCode}${said ? `: ${said}` : ''}`}`,
    );
  }
}

/** Whether the timer is still waiting, or its service is running (the revert in progress). */
export async function isTransientTimerActive(unit: string): Promise<boolean> {
  const result = await execa('systemctl', ['is-active', '--quiet', `${unit}.timer`, `${unit}.service`], {
    reject: false,
    stdin: 'ignore',
    timeout: 10_000,
  });
  return result.exitCode === 0;
}

/** Stops the timer (after a confirm, or to re-arm it); true if it was still waiting. */
export async function stopTransientTimer(unit: string): Promise<boolean> {
  const waiting = await execa('systemctl', ['is-active', '--quiet', `${unit}.timer`], {
    reject: false,
    stdin: 'ignore',
    timeout: 10_000,
  });
  await execa('systemctl', ['stop', `${unit}.timer`], { reject: false, stdin: 'ignore', timeout: 30_000 });
  return waiting.exitCode === 0;
}
