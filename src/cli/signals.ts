import type { CliContext } from './context.js';

/** What becomes of the work an interrupt stops, said when it comes: true for the command at hand. */
export const afterInterrupt = {
  run: 'the step in progress is re-checked on resume',
  // A --sandbox run is not resumable (issue 26): its host goes with the command.
  oneShotRun: 'this sandbox host vanishes with the command, and what the run did in it',
  rollback: 'run the rollback again to finish it',
  check: 'a check changes nothing',
  confirm: 'run the command again',
  topology: 'topology changes nothing',
  plan: 'plan changes nothing',
} as const;

/**
 * Runs `work` with an AbortSignal that SIGINT / SIGTERM / SIGHUP abort. The engine checks it before
 * every command, so a run stops at the next safe point with its journal complete.
 */
export async function withInterruptSignal<T>(
  ctx: CliContext,
  work: (signal: AbortSignal) => Promise<T>,
  then: (typeof afterInterrupt)[keyof typeof afterInterrupt] = afterInterrupt.run,
): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (!controller.signal.aborted) ctx.err(`${name}: stopping at the next safe point (${then})…`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal); // a closed terminal or ssh session
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
}
