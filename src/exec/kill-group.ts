/** How long a command's process group has, after SIGTERM, before it gets SIGKILL. */
export const killGraceMs = 1_000;

/**
 * Stops a command and everything it started: SIGTERM to its whole process group, then SIGKILL
 * to what is left after the grace period. Killing only the command would leave a grandchild
 * that holds its stdout open, and the run would wait for it (issue 11). Returns a function
 * that cancels the pending SIGKILL once the command has ended.
 */
export function killProcessGroup(pid: number): () => void {
  // Never 0 or 1: to kill() a negative 0 or 1 means our own group or every process we may signal.
  if (!Number.isInteger(pid) || pid <= 1) return () => undefined;
  signalGroup(pid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), killGraceMs);
  timer.unref();
  return () => clearTimeout(timer);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the whole group has already gone.
  }
}
