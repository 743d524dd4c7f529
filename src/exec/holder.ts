import { execa } from 'execa';

/** A background process that holds something open (namespaces, say) until it is stopped. */
export interface Holder {
  pid: number;
  /** Kills it (SIGKILL) and waits until it is gone. */
  stop(): Promise<void>;
}

/**
 * Starts `argv`, which must print a line once it is ready and then keep running, and waits for
 * that line. Throws with `failure(shortMessage)` if it ends first. The environment is explicit:
 * this process's own, unchanged.
 */
export async function startHolder(argv: readonly string[], failure: (message: string) => Error): Promise<Holder> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('empty argv');
  const child = execa(file, args, {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    reject: false,
    buffer: false,
    extendEnv: false,
    env: { ...process.env },
  });
  const stop = async () => {
    child.kill('SIGKILL');
    await child;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.once('data', () => resolve());
      void child.then((r) => reject(failure(r.shortMessage ?? `exit ${r.exitCode}`)));
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { pid: child.pid as number, stop };
}
