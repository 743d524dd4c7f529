import type { CliContext } from './context.js';

/**
 * Runs `work` with an AbortSignal that SIGINT / SIGTERM abort. The engine checks it before
 * every command, so a run stops at the next safe point with its journal complete.
 */
export async function withInterruptSignal<T>(ctx: CliContext, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (!controller.signal.aborted) ctx.err(`${name}: stopping after the command in progress…`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
