import { execa } from 'execa';
import { killProcessGroup } from './kill-group.js';
import { readFileInProcess } from './read-file.js';
import { whyNotStartable } from './startable.js';
import { notStartedResult, type CommandRequest, type CommandResult, type Executor } from './types.js';

/**
 * The real executor: runs argv directly (never through a shell), each command the leader of a
 * process group of its own, with a hard timeout so that a hanging command (a ping with no
 * reply, say) can never hang a run. On timeout or interrupt the whole group is stopped, so a
 * grandchild cannot stretch either. Exit code, signal and duration are execa's own.
 */
export function createExecaExecutor(host: Pick<Executor, 'resolves' | 'lockHost'> = {}): Executor {
  return {
    // What it knows of the host it changes (its lock, its PATH) is handed in from src/host.
    ...host,
    async run(request: CommandRequest): Promise<CommandResult> {
      // A `read:` check runs no program, whichever executor the engine was given (rollback's
      // undo-checks run through this one from the watchdog and `confirm`).
      if (request.read !== undefined) return readFileInProcess(request);
      const { argv, timeoutMs, input, signal } = request;
      const [file, ...args] = argv;
      // The engine never asks for these (journaled-command.ts checks first); a caller that does
      // gets a command that could not start, never an exception.
      const unstartable = whyNotStartable(argv);
      if (file === undefined || unstartable !== undefined) return notStartedResult(unstartable ?? 'empty argv');
      // One signal for "stop this command now": the deadline, or the user's interrupt.
      const stop = new AbortController();
      let timedOut = false;
      const deadline = setTimeout(() => {
        timedOut = true;
        stop.abort();
      }, timeoutMs);
      const onInterrupt = () => stop.abort();
      signal?.addEventListener('abort', onInterrupt, { once: true });
      if (signal?.aborted === true) stop.abort();
      let cancelKill = (): void => undefined;
      try {
        const subprocess = execa(file, args, {
          reject: false,
          // Its own process group (and session): a terminal's Ctrl-C does not reach it directly,
          // we pass it on through cancelSignal, and we can stop the group as a whole.
          detached: true,
          cancelSignal: stop.signal,
          forceKillAfterDelay: false, // killProcessGroup sends the SIGKILL, to the whole group
          // stdin is closed unless the command carries text for it (a file written with tee).
          ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
          stripFinalNewline: false,
          // Bytes, decoded below: a capture must know when its output is not text.
          encoding: 'buffer',
          // Explicit: this process's environment with a fixed, predictable locale, so that
          // checks on command output are stable.
          extendEnv: false,
          env: { ...process.env, LC_ALL: 'C' },
        });
        const pid = subprocess.pid;
        stop.signal.addEventListener('abort', () => {
          if (pid !== undefined) cancelKill = killProcessGroup(pid);
        });
        const result = await subprocess;
        // execa reports "not installed" as a failed result with an errno code and no exit status.
        const startError =
          result.exitCode === undefined && result.signal === undefined && !timedOut && !result.isCanceled
            ? result.shortMessage
            : undefined;
        const stdout = decodeText(result.stdout);
        return {
          exitCode: result.exitCode,
          signal: result.signal ?? (result.isCanceled && !timedOut ? 'SIGTERM' : undefined),
          stdout: stdout.text,
          ...(stdout.valid ? {} : { stdoutNotText: true as const }),
          stderr: decodeText(result.stderr).text,
          durationMs: Math.round(result.durationMs),
          timedOut,
          startError,
        };
      } finally {
        clearTimeout(deadline);
        cancelKill();
        signal?.removeEventListener('abort', onInterrupt);
      }
    },
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lossyUtf8 = new TextDecoder('utf-8');

/** A stream's bytes as text, and whether they were valid UTF-8 (else the text is lossy). */
function decodeText(bytes: Uint8Array | undefined): { text: string; valid: boolean } {
  if (bytes === undefined) return { text: '', valid: true };
  try {
    return { text: strictUtf8.decode(bytes), valid: true };
  } catch {
    return { text: lossyUtf8.decode(bytes), valid: false };
  }
}
