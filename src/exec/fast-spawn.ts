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
 *
 * The CNI plugin runs every command this way, changing ones too (`input` on stdin, output
 * checked to be UTF-8 as the execa executor does): a plugin call is on the path of every
 * container start, and loading execa alone costs more CPU than the reference bridge plugin's
 * whole ADD (docs/cni.md).
 */
export function spawnReadOnly(request: CommandRequest): Promise<CommandResult> {
  return spawnLight(request);
}

/**
 * The same path for any command: `input` goes to its stdin (closed otherwise). `env` replaces
 * the environment (a CNI plugin's own CNI_* variables); by default it is this process's with
 * LC_ALL=C, as for every runbook command.
 */
export function spawnLight(
  { argv, timeoutMs, signal: interrupt, input }: CommandRequest,
  env: Readonly<Record<string, string | undefined>> = { ...process.env, LC_ALL: 'C' },
): Promise<CommandResult> {
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
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true, // its own process group: a grandchild is stopped with it
      env,
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
    child.stdout?.on('data', collect(stdout));
    child.stderr?.on('data', collect(stderr));
    if (input !== undefined && child.stdin !== null) {
      child.stdin.on('error', () => undefined); // a command that exits without reading its stdin
      child.stdin.end(input);
    }
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
      const out = decodeText(Buffer.concat(stdout));
      resolve({
        // Node reports a spawn failure's errno (e.g. -2) as the code: that is no exit status.
        exitCode: notStarted ? undefined : (code ?? undefined),
        signal: signal ?? undefined,
        stdout: out.text,
        ...(out.valid ? {} : { stdoutNotText: true as const }),
        stderr: Buffer.concat(stderr).toString('utf8'),
        durationMs: Math.round(performance.now() - started),
        timedOut,
        startError,
      });
    });
  });
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A stream's bytes as text, and whether they were valid UTF-8 (else the text is lossy). */
function decodeText(bytes: Buffer): { text: string; valid: boolean } {
  try {
    return { text: strictUtf8.decode(bytes), valid: true };
  } catch {
    return { text: bytes.toString('utf8'), valid: false };
  }
}
