/** What running one command produced. Shaped the same whether it succeeded or not. */
export interface CommandResult {
  /** Exit status; undefined when the process was killed by a signal or never started. */
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** Set when the program could not be started at all (e.g. not installed). */
  startError: string | undefined;
  /**
   * Set when stdout was not valid UTF-8 (a binary file's bytes): `stdout` then holds a lossy
   * decoding, which must never be kept to restore anything from.
   */
  stdoutNotText?: true;
}

export interface CommandRequest {
  argv: readonly string[];
  timeoutMs: number;
  /** Text for the command's standard input; without it, stdin is closed. */
  input?: string | undefined;
  /** The user's interrupt: when it aborts, the command is stopped (its process group killed). */
  signal?: AbortSignal | undefined;
  /** The runbook format promises this command changes nothing (a check or a probe). */
  readOnly?: boolean;
  /**
   * A `read:` check: this file is read in-process (exec/read-file.ts) and no program runs;
   * `argv` is then `["read", path]`, the form journals and messages show.
   */
  read?: string | undefined;
}

/** A lock held on the host an executor changes (src/host/host-lock.ts takes it); release once. */
export interface HostLock {
  release(): void;
}

/**
 * The one seam through which the engine touches the host. The real one spawns processes with
 * execa; tests inject fakes that record calls and fail on demand.
 */
export interface Executor {
  run(request: CommandRequest): Promise<CommandResult>;
  /** Whether `program` would start (found on PATH): the preflight asks before anything runs. */
  resolves?(program: string): boolean;
  /**
   * Takes the lock of the host this executor changes: one runbook process changing it at a
   * time, whatever its state dir (src/host/host-lock.ts). The real executors have it; a fake
   * host has nothing to share, so tests in memory never wait for each other.
   */
  lockHost?(command: string, stateDir: string): Promise<HostLock>;
}

/** The result of a command that could not be started at all, with why. */
export function notStartedResult(why: string): CommandResult {
  return {
    exitCode: undefined,
    signal: undefined,
    stdout: '',
    stderr: '',
    durationMs: 0,
    timedOut: false,
    startError: why,
  };
}

/**
 * True when the command ran to completion with exit status 0, or with one of `okExit` when the
 * command declares the statuses it accepts (`ok_exit: [0, 2]`).
 */
export function succeeded(result: CommandResult, okExit: readonly number[] = [0]): boolean {
  return (
    result.exitCode !== undefined &&
    okExit.includes(result.exitCode) &&
    !result.timedOut &&
    result.startError === undefined
  );
}
