import { spawn } from 'node:child_process';
import { killProcessGroup } from './kill-group.js';
import { whyNotStartable } from './startable.js';
import { notStartedResult, type CommandRequest, type CommandResult } from './types.js';

/** More output than any check needs: a command that writes this much is stopped. */
const maxOutputBytes = 100 * 1024 * 1024;

/**
 * Runs a short read-only command (a check, a probe) with node:child_process directly: argv,
 * never a shell, its own process group, stopped as a whole (kill-group.ts) at its timeout or
 * at the user's interrupt, as the execa executor does. It
 * costs about half the CPU of execa per command and loads no module, and a re-run of a runbook is
 * nothing but such commands (docs/performance.md). Its result has the execa executor's shape.
 */
export function spawnReadOnly({ argv, timeoutMs, signal: interrupt }: CommandRequest): Promise<CommandResult> {
  const [file, ...args] = argv;
  const unstartable = whyNotStartable(argv);
  if (file === undefined || unstartable !== undefined)
    return Promise.resolve(notStartedResult(unstartable ?? 'empty argv'));
  const started = performance.now();
  return new Promise((resolve) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let bytes = 0;
    let timedOut = false;
    let startError: string | undefined;
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: a grandchild is stopped with it
      // The caller's environment with a fixed locale, as the execa executor does, so that checks
      // on command output are stable.
      env: { ...process.env, LC_ALL: 'C' },
    });
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxOutputBytes) {
        startError ??= `${file} wrote more than ${maxOutputBytes} bytes of output and was stopped`;
        stop();
        return;
      }
      into.push(chunk);
    };
    child.stdout.on('data', collect(stdout));
    child.stderr.on('data', collect(stderr));
    let cancelKill = (): void => undefined;
    let stopped = false;
    const stop = () => {
      if (stopped || child.pid === undefined) return;
      stopped = true;
      cancelKill = killProcessGroup(child.pid);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    interrupt?.addEventListener('abort', stop, { once: true });
    if (interrupt?.aborted === true) stop();
    // "Not installed" and the like: no process ran, so there is no exit status ('close' follows).
    let notStarted = false;
    child.on('error', (error: NodeJS.ErrnoException) => {
      notStarted = true;
      startError ??= `Command failed with ${error.code ?? 'an error'}: ${argv.join(' ')}\n${error.message}`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      cancelKill();
      interrupt?.removeEventListener('abort', stop);
      resolve({
        // Node reports a spawn failure's errno (e.g. -2) as the code: that is no exit status.
        exitCode: notStarted ? undefined : (code ?? undefined),
        signal: signal ?? undefined,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        durationMs: Math.round(performance.now() - started),
        timedOut,
        startError,
      });
    });
  });
}
