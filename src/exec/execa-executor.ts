import { execa } from 'execa';
import type { CommandRequest, CommandResult, Executor } from './types.js';

/**
 * The real executor: runs argv directly (never through a shell), with a hard timeout so that a
 * hanging command (a ping with no reply, say) can never hang a run. Its result is execa's own:
 * exit code, signal, timeout and duration as execa measured them.
 */
export function createExecaExecutor(): Executor {
  return {
    async run({ argv, timeoutMs, input }: CommandRequest): Promise<CommandResult> {
      const [file, ...args] = argv;
      if (file === undefined) throw new Error('empty argv');
      const result = await execa(file, args, {
        reject: false,
        timeout: timeoutMs,
        // stdin is closed unless the command carries text for it (a file written with tee).
        ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
        stripFinalNewline: false,
        // Explicit: this process's environment with a fixed, predictable locale, so that
        // checks on command output are stable.
        extendEnv: false,
        env: { ...process.env, LC_ALL: 'C' },
      });
      // execa reports "not installed" as a failed result with an errno code and no exit status.
      const startError =
        result.exitCode === undefined && result.signal === undefined && !result.timedOut
          ? result.shortMessage
          : undefined;
      return {
        exitCode: result.exitCode,
        signal: result.signal,
        stdout: String(result.stdout ?? ''),
        stderr: String(result.stderr ?? ''),
        durationMs: Math.round(result.durationMs),
        timedOut: result.timedOut,
        startError,
      };
    },
  };
}
