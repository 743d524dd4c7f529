import { createConnection, createServer, type Server } from 'node:net';
import { RunbookError } from '../errors.js';
import { checkPlainText } from '../text/plain-text.js';
import { currentNetns } from './identity.js';
import type { HostLock } from '../exec/types.js';

/**
 * One runbook process changing this host's network at a time, whatever its state dir
 * (issue 11). The state dir's lock (journal/lock.ts) keeps two commands of one state dir apart,
 * but a checkout's `state/` and `/var/lib/runbook` are two state dirs on one host: two runs,
 * one from each, would both claim the same objects, and each one's rollback would delete the
 * other's.
 *
 * The lock is a listening unix socket in the abstract namespace (Linux): the name exists while
 * the socket is open, and the kernel closes it when the process ends however it ends (kill -9,
 * a crash), so a dead holder never leaves a stale lock, and there is no file to trust. Abstract
 * socket names belong to a network namespace, so the lock is exactly "this network's host": a
 * sandbox host (`--sandbox`, `--in`, a test's) has a lock of its own and never waits for the
 * real host's, nor for another sandbox's. It must be taken in the process that runs the steps,
 * which a sandbox re-executes inside its namespaces: the engine takes it, not the CLI.
 */

/** The abstract socket's name, as `ss -xlp` shows it (with a leading `@`, and dots after). */
export const hostLockName = 'runbook-host-lock';

/**
 * The address, filling all 108 bytes of sun_path: libuv before 1.48 (Node 20) binds an
 * abstract name padded with NULs to the full length, later ones (Node 22, 24) bind exactly
 * the bytes given. A name of full length is the same bytes under both, so runbook processes
 * on different Node versions see one lock.
 */
const socketPath = `\0${hostLockName.padEnd(107, '.')}`;

/** Who holds the lock: what a second process is told when it connects. */
interface HostLockHolder {
  pid: number;
  command: string;
  stateDir: string;
  since: string;
}

export type { HostLock };

/**
 * Takes this host's lock for `command` (which acts in `stateDir`), or throws the "locked" error
 * (exit 3) naming the holder, as far as it answers.
 */
export async function acquireHostLock(command: string, stateDir: string): Promise<HostLock> {
  const me: HostLockHolder = { pid: process.pid, command, stateDir, since: new Date().toISOString() };
  // The holder answers whoever connects with who it is, then hangs up.
  const server = createServer((socket) => {
    socket.unref();
    socket.on('error', () => undefined);
    socket.end(`${JSON.stringify(me)}\n`);
  });
  // A second attempt covers a holder that ended between our listen and our connect.
  for (let attempt = 0; attempt < 2; attempt++) {
    const error = await listen(server);
    if (error === undefined) {
      // Never what keeps this process alive: it lives exactly as long as the command does.
      server.unref();
      return { release: () => server.close() };
    }
    if (error.code !== 'EADDRINUSE') {
      throw new RunbookError(
        'internal',
        `could not take this host's runbook lock (@${hostLockName}): ${error.message}`,
      );
    }
    const holder = await askHolder();
    if (holder === 'gone') continue;
    throw lockedError(holder, stateDir);
  }
  throw new RunbookError('locked', `could not take this host's runbook lock: another process took it first`, {
    hint: 'wait for it to finish, then try again',
  });
}

function listen(server: Server): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const onError = (error: NodeJS.ErrnoException) => resolve(error);
    server.once('error', onError);
    server.listen({ path: socketPath }, () => {
      server.off('error', onError);
      resolve(undefined);
    });
  });
}

/**
 * What the holder says about itself; 'gone' when nobody listens any more, undefined when it
 * does not answer in time (busy) or answers something else (another program took the name).
 */
function askHolder(): Promise<HostLockHolder | 'gone' | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const socket = createConnection({ path: socketPath });
    const done = (value: HostLockHolder | 'gone' | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), 1_000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => done(parseHolder(text)));
    socket.on('error', (error: NodeJS.ErrnoException) =>
      done(error.code === 'ECONNREFUSED' || error.code === 'ENOENT' ? 'gone' : undefined),
    );
  });
}

function parseHolder(text: string): HostLockHolder | undefined {
  try {
    const holder = JSON.parse(text) as HostLockHolder;
    const wellFormed =
      typeof holder === 'object' &&
      holder !== null &&
      Number.isInteger(holder.pid) &&
      [holder.command, holder.stateDir, holder.since].every(isPrintable);
    return wellFormed ? holder : undefined;
  } catch {
    return undefined;
  }
}

/** Any process may bind the name: what it says reaches the terminal only if it is plain, short text. */
function isPrintable(value: unknown): boolean {
  return typeof value === 'string' && value.length <= 4096 && checkPlainText(value) === undefined;
}

function lockedError(holder: HostLockHolder | undefined, stateDir: string): RunbookError {
  const who =
    holder === undefined
      ? 'a process that does not say who it is'
      : `pid ${holder.pid} (${holder.command}, state dir ${holder.stateDir}), since ${holder.since}`;
  const otherDir =
    holder !== undefined && holder.stateDir !== stateDir
      ? `; its runs are in ${holder.stateDir}, not in ${stateDir}, so \`runbook runs\` here does not list it`
      : '';
  return new RunbookError(
    'locked',
    `another runbook process is changing this host (network namespace ${currentNetns()}): ${who}${otherDir}; nothing was changed`,
    {
      hint: `wait for it to finish, then try again; \`ss -xlp | grep @${hostLockName}\` shows the process that holds the lock (stop it by its pid if it is stuck)`,
    },
  );
}
