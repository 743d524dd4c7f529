import type { ResultPromise } from 'execa';
import { constants } from 'node:os';

/**
 * Waits for a child that runs a runbook command on our behalf (inside a sandbox host) and
 * returns its exit code the way a shell reports it: its own, or 128 + the signal that killed it;
 * undefined if it never started. While it runs, Ctrl-C reaches the child through the terminal
 * (so this process ignores SIGINT rather than dying first), and SIGTERM or SIGHUP sent to this
 * process is passed on, so the child can stop at a safe point and journal it.
 */
export async function waitForwardingSignals(
  child: ResultPromise,
): Promise<{ exitCode: number | undefined; message: string }> {
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
