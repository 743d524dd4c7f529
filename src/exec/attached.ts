import { execa } from 'execa';
import { constants } from 'node:os';

/** How an attached child ended: its exit code as a shell reports it, or why it never ran. */
export interface AttachedResult {
  /** Its own exit code, or 128 + the signal that killed it; undefined if it never started. */
  exitCode: number | undefined;
  /** Why it could not start (empty when it ran). */
  message: string;
}

/**
 * Runs a child that acts on our behalf with this terminal attached (stdio inherited): a runbook
 * command re-executed inside a sandbox host, or a shell in one. While it runs, Ctrl-C reaches
 * the child through the terminal (so this process ignores SIGINT rather than dying first), and
 * SIGTERM or SIGHUP sent to this process is passed on, so the child can stop at a safe point
 * and journal it.
 *
 * The environment is explicit: this process's own, plus `env` (the child is this user's command
 * or shell, so it keeps PATH, HOME, TERM and the rest).
 */
export async function runAttached(argv: readonly string[], env: Record<string, string>): Promise<AttachedResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('empty argv');
  const child = execa(file, args, {
    stdio: 'inherit',
    reject: false,
    extendEnv: false,
    env: { ...process.env, ...env },
  });
  const ignore = () => {};
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', ignore);
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  try {
    const result = await child;
    if (result.exitCode !== undefined) return { exitCode: result.exitCode, message: '' };
    const signalNumber =
      result.signal === undefined ? undefined : constants.signals[result.signal as keyof typeof constants.signals];
    return {
      exitCode: signalNumber === undefined ? undefined : 128 + signalNumber,
      message: result.shortMessage ?? 'unknown failure',
    };
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGTERM', forward);
    process.off('SIGHUP', forward);
  }
}
