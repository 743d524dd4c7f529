import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';

export interface DetachedProcess {
  pid: number;
}

/**
 * Starts a process that must outlive this one and the terminal session it runs in (the
 * watchdog of `run --confirm-within`): in its own session and process group (setsid, through
 * `detached`), so a hangup or a signal sent to this command's process group never reaches it;
 * stdin and stdout on /dev/null and stderr appended to `log` (an fd opened for appending, which
 * is closed here; `file` names it in messages), so it holds no terminal.
 *
 * It reports that it is ready by writing one line on fd 3, a pipe this process reads and then
 * lets go of; until then, a failure to start is reported here. Spawned with node's own
 * child_process rather than execa, whose result promise would wait for an exit we never want
 * to wait for.
 */
export async function spawnDetached(
  argv: readonly string[],
  options: { env: NodeJS.ProcessEnv; log: { fd: number; file: string }; readyWithinMs: number },
): Promise<DetachedProcess> {
  const log = options.log.fd;
  const [file, ...args] = argv;
  try {
    if (file === undefined) throw new Error('empty argv');
    const child = spawn(file, args, {
      detached: true,
      stdio: ['ignore', 'ignore', log, 'pipe'],
      env: options.env,
    });
    const ready = child.stdio[3];
    if (ready === null || ready === undefined) throw new Error('no readiness pipe');
    try {
      await new Promise<void>((resolve, reject) => {
        let seen = '';
        const timer = setTimeout(
          () => reject(new Error(`it did not report ready within ${options.readyWithinMs} ms`)),
          options.readyWithinMs,
        );
        ready.on('data', (chunk: Buffer) => {
          seen += chunk.toString();
          if (seen.includes('\n')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`it exited before it was ready (${signal ?? `exit ${code}`}; see ${options.log.file})`));
        });
      });
    } catch (error) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      throw error;
    }
    ready.destroy();
    child.removeAllListeners();
    child.unref();
    if (child.pid === undefined) throw new Error('no pid');
    return { pid: child.pid };
  } finally {
    closeSync(log);
  }
}
