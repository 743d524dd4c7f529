import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { invalidInput, RunbookError } from '../errors.js';
import { createExecaExecutor } from '../exec/execa-executor.js';
import { startHolder, type Holder } from '../exec/holder.js';
import { succeeded, type Executor } from '../exec/types.js';
import { currentNetns, oneShotSandboxPrefix } from '../host/identity.js';
import { requireSandboxCaps } from '../host/privileges.js';
import { createExclusive, ioError, mkdirPrivate, readNoFollow } from '../journal/safe-fs.js';
import { openRunStore } from '../store/open-run-store.js';
import type { RunIndex, RunStore } from '../store/run-store.js';
import { mountsAtOrUnder, nsfsMountAt, readMounts } from './mountinfo.js';
import { tutorialHostSetup } from './tutorial-host.js';
import { advice, runbookCommand } from '../suggestion.js';

/**
 * Persistent sandbox hosts (`runbook sandbox create|list|destroy`): like the one-shot --sandbox
 * host, a network + mount namespace set up like the tutorial's VM, but kept alive after the
 * command ends by bind-mounting the namespaces onto files in the state dir:
 *
 *   <stateDir>/sandboxes/<name>/          bind-mounted onto itself, private propagation
 *   <stateDir>/sandboxes/<name>/net       the network namespace (nsfs bind mount)
 *   <stateDir>/sandboxes/<name>/mnt       the mount namespace, with its own /run/netns tmpfs
 *   <stateDir>/sandboxes/<name>/state/    the sandbox's own state dir (runs and journals)
 *   <stateDir>/sandboxes/<name>/.runbook-sandbox   the marker: `create` made this dir
 *
 * Every function takes the state dir's store (src/store/), opened and trusted by its caller;
 * a sandbox's own state dir is opened through the same door (openRunStore) before its runs are
 * read. `list` and `destroy` accept only a real directory (not a link) holding the marker, and
 * `destroy` unmounts only the three mounts `create` made (issue 10): a link or a mount planted
 * there is refused, never followed or deleted into.
 *
 * A mount namespace file must sit in a directory whose mount does not propagate, or the new
 * namespace would contain a mount of itself; hence the sandbox dir's private self bind mount.
 */

export interface SandboxPaths {
  name: string;
  dir: string;
  net: string;
  mnt: string;
  stateDir: string;
  bashrc: string;
  marker: string;
}

function pathsOf(name: string, dir: string): SandboxPaths {
  return {
    name,
    dir,
    net: path.join(dir, 'net'),
    mnt: path.join(dir, 'mnt'),
    stateDir: path.join(dir, 'state'),
    bashrc: path.join(dir, 'bashrc'),
    marker: path.join(dir, markerName),
  };
}

const markerName = '.runbook-sandbox';

/** Whether `dir` is a real directory (not a link) that `sandbox create` made: it holds the marker. */
function isMadeByCreate(dir: string): boolean {
  try {
    if (!lstatSync(dir).isDirectory()) return false;
    const marker = JSON.parse(readNoFollow(path.join(dir, markerName))) as { createdBy?: unknown };
    return marker.createdBy === 'runbook sandbox create';
  } catch {
    return false;
  }
}

/** Letters, digits, '.', '_', '-'; not "." or ".."; `one-shot-*` is reserved for --sandbox hosts. */
export function validateSandboxName(name: string): void {
  const problem = !/^[A-Za-z0-9._-]+$/.test(name)
    ? 'use only letters, digits, ".", "_" and "-"'
    : name === '.' || name === '..'
      ? 'it is not a name'
      : name.startsWith('-')
        ? 'it must not start with "-"'
        : name.length > 64
          ? 'at most 64 characters'
          : name.startsWith(oneShotSandboxPrefix)
            ? `names starting with "${oneShotSandboxPrefix}" are kept for throwaway --sandbox hosts`
            : undefined;
  if (problem !== undefined) throw invalidInput(`bad sandbox name "${name}": ${problem}; nothing was changed`);
}

/** An existing sandbox's paths (resolved, as /proc/self/mountinfo names them); exit 2 if none. */
export function locateSandbox(store: RunStore, name: string): SandboxPaths {
  validateSandboxName(name);
  const dir = path.join(store.sandboxesDir(), name);
  if (!isMadeByCreate(dir)) {
    throw invalidInput(
      `no sandbox named "${name}" in ${store.sandboxesDir()}; nothing was changed`,
      advice`create it with: ${runbookCommand('sandbox', 'create', name)}   (see them all: ${runbookCommand('sandbox', 'list')})`,
    );
  }
  return pathsOf(name, realpathSync(dir));
}

export type SandboxLiveness = { alive: true; netns: string; mntns: string } | { alive: false; reason: string };

/** Alive while both namespaces are still bind-mounted (a reboot, for one, ends them). */
export function sandboxLiveness(paths: SandboxPaths): SandboxLiveness {
  const mounts = readMounts();
  const netns = nsfsMountAt(paths.net, mounts);
  const mntns = nsfsMountAt(paths.mnt, mounts);
  if (netns?.startsWith('net:') && mntns?.startsWith('mnt:')) return { alive: true, netns, mntns };
  return {
    alive: false,
    reason: 'its namespaces no longer exist (after a reboot, say, or in another mount namespace)',
  };
}

/** The live sandbox, or exit 2 saying it is gone. */
export function requireAlive(paths: SandboxPaths): { netns: string; mntns: string } {
  const liveness = sandboxLiveness(paths);
  if (!liveness.alive) {
    throw invalidInput(
      `sandbox "${paths.name}" is gone: ${liveness.reason}; nothing was changed`,
      advice`remove what is left of it with: ${runbookCommand('sandbox', 'destroy', paths.name)}`,
    );
  }
  return liveness;
}

/** argv run inside the sandbox host: its network and mount namespaces. */
export function insideArgv(paths: SandboxPaths, argv: readonly string[]): string[] {
  return ['nsenter', `--net=${paths.net}`, `--mount=${paths.mnt}`, '--', ...argv];
}

async function mustRun(executor: Executor, argv: readonly string[], what: string): Promise<void> {
  const result = await executor.run({ argv, timeoutMs: 10_000 });
  if (!succeeded(result)) {
    const detail = (result.startError ?? result.stderr).trim() || `exit ${result.exitCode ?? result.signal}`;
    throw new RunbookError('internal', `${what} failed at \`${argv.join(' ')}\`: ${detail}`);
  }
}

/**
 * `runbook sandbox create`: new network + mount namespaces bound to files under the state dir,
 * then set up like the tutorial's VM (uplink enp0s8 10.0.0.10/24, gateway 10.0.0.1 in a "lan"
 * namespace, 198.51.100.1 as the stand-in internet). If any part fails, what was made is removed.
 */
export async function createSandbox(
  store: RunStore,
  name: string,
  executor: Executor = createExecaExecutor(),
): Promise<SandboxPaths & { netns: string }> {
  validateSandboxName(name);
  requireSandboxCaps();
  if (store.access !== 'write') throw new RunbookError('internal', 'sandbox create needs a store opened for writing');
  mkdirPrivate(store.sandboxesDir());
  const wanted = path.join(store.sandboxesDir(), name);
  try {
    mkdirSync(wanted, { mode: 0o700 }); // atomic: of two concurrent creates, one gets EEXIST
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(error, wanted, 'creating');
    throw invalidInput(
      `a sandbox named "${name}" already exists (${wanted}); nothing was changed`,
      advice`use it (${runbookCommand('--in', name, '…')}), or remove it first: ${runbookCommand('sandbox', 'destroy', name)}`,
    );
  }
  const paths = pathsOf(name, realpathSync(wanted));
  try {
    createExclusive(paths.marker, `${JSON.stringify({ createdBy: 'runbook sandbox create', name })}\n`);
    mkdirPrivate(paths.stateDir);
    await mustRun(executor, ['mount', '--bind', paths.dir, paths.dir], 'making the sandbox dir a mount');
    await mustRun(executor, ['mount', '--make-private', paths.dir], 'making the sandbox dir private');
    createExclusive(paths.net, '');
    createExclusive(paths.mnt, '');
    await bindNewNamespaces(paths, executor);
    const { netns } = requireAlive(paths);
    // Every setup command runs through nsenter into the new namespaces; check they are new.
    if (netns === currentNetns())
      throw new RunbookError(
        'internal',
        `refusing to set up sandbox "${name}": its network namespace is this host's own (${netns})`,
      );
    for (const argv of tutorialHostSetup)
      await mustRun(executor, insideArgv(paths, argv), `setting up sandbox "${name}"`);
    return { ...paths, netns };
  } catch (error) {
    try {
      await removeSandboxDir(paths, executor);
    } catch (cleanup) {
      throw new RunbookError(
        'internal',
        `${(error as Error).message}; removing the half-made sandbox failed too: ${(cleanup as Error).message}`,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * New network + mount namespaces, bind-mounted onto the sandbox's `net` and `mnt` files: a
 * holder process is started in them (`unshare --net --mount`), its namespaces are bound from
 * here, and it is killed.
 *
 * The kernel refuses (EINVAL) to bind a mount namespace whose id is not greater than the id of
 * the binding process's own mount namespace (its guard against namespace loops). Recent kernels
 * (seen on 6.18) hand out namespace ids in per-CPU batches, so a namespace made later on another
 * CPU can get a smaller id; `unshare --net=FILE --mount=FILE` then fails about half the time.
 * The CPU that made our own namespace always hands out greater ids, so if the first try fails,
 * the holder is started pinned to each CPU in turn (taskset) until one bind succeeds.
 */
async function bindNewNamespaces(paths: SandboxPaths, executor: Executor): Promise<void> {
  const cpus = [undefined, ...Array.from({ length: availableParallelism() }, (_, i) => i)];
  let lastError: unknown;
  for (const cpu of cpus) {
    const unshare = [
      'unshare',
      '--net',
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      'echo ready; exec sleep 600',
    ];
    const argv = cpu === undefined ? unshare : ['taskset', '--cpu-list', String(cpu), ...unshare];
    let holder: Holder | undefined;
    try {
      holder = await startHolder(
        argv,
        (message) =>
          new RunbookError('internal', `creating the sandbox namespaces failed at \`${argv.join(' ')}\`: ${message}`, {
            hint: 'is util-linux (unshare, taskset) installed?',
          }),
      );
      const pid = holder.pid;
      if (readlinkSync(`/proc/${pid}/ns/net`) === currentNetns()) {
        throw new RunbookError(
          'internal',
          `refusing to create sandbox "${paths.name}": unshare did not make a new network namespace`,
        );
      }
      await mustRun(
        executor,
        ['mount', '--bind', `/proc/${pid}/ns/net`, paths.net],
        'keeping the sandbox network namespace',
      );
      await mustRun(
        executor,
        ['mount', '--bind', `/proc/${pid}/ns/mnt`, paths.mnt],
        'keeping the sandbox mount namespace',
      );
      return;
    } catch (error) {
      lastError = error;
      for (const file of [paths.mnt, paths.net]) {
        if (nsfsMountAt(file) !== undefined)
          await mustRun(executor, ['umount', file], 'undoing a failed namespace bind');
      }
    } finally {
      await holder?.stop();
    }
  }
  throw lastError;
}

/** Processes whose network or mount namespace is the sandbox's (a shell, a running command). */
export function processesInside(liveness: { netns: string; mntns: string }): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (
        readlinkSync(`/proc/${entry}/ns/net`) === liveness.netns ||
        readlinkSync(`/proc/${entry}/ns/mnt`) === liveness.mntns
      )
        pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

/**
 * `runbook sandbox destroy`: unmounts the namespace files and the sandbox dir (so the kernel
 * frees the namespaces and everything in them), then deletes the dir with its runs. Refuses
 * while a process is still inside: it would keep the namespaces alive, unseen.
 */
export async function destroySandbox(
  store: RunStore,
  name: string,
  executor: Executor = createExecaExecutor(),
): Promise<SandboxPaths & { runs: number }> {
  const paths = locateSandbox(store, name);
  requireSandboxCaps();
  const liveness = sandboxLiveness(paths);
  if (liveness.alive) {
    const pids = processesInside(liveness);
    if (pids.length > 0) {
      throw invalidInput(
        `sandbox "${name}" is in use by process(es) ${pids.join(', ')}; nothing was changed`,
        'leave its shell (exit) or let the command inside end, then destroy it again',
      );
    }
  }
  const runs = openRunStore(paths.stateDir, 'read', { trust: store.trust }).listRuns().length;
  await removeSandboxDir(paths, executor);
  return { ...paths, runs };
}

/**
 * Unmounts the mounts `create` made (the namespace files, then the dir's own bind mount) and
 * deletes the dir only then. Any other mount under it was not made by runbook: it is refused
 * before anything is unmounted, never deleted into.
 */
async function removeSandboxDir(paths: SandboxPaths, executor: Executor): Promise<void> {
  const ours = (m: { mountPoint: string; fsType: string }) =>
    ((m.mountPoint === paths.net || m.mountPoint === paths.mnt) && m.fsType === 'nsfs') || m.mountPoint === paths.dir;
  const foreign = mountsAtOrUnder(paths.dir).filter((m) => !ours(m));
  if (foreign.length > 0) {
    throw invalidInput(
      `sandbox "${paths.name}" has mounts that \`runbook sandbox create\` did not make: ${foreign.map((m) => m.mountPoint).join(', ')}; nothing was changed`,
      "unmount them yourself (they may hold data that is not the sandbox's), then destroy it again",
    );
  }
  for (const mountPoint of [paths.net, paths.mnt, paths.dir]) {
    for (let i = 0; i < 4 && mountsAtOrUnder(mountPoint).some((m) => m.mountPoint === mountPoint); i++)
      await mustRun(executor, ['umount', mountPoint], `unmounting sandbox "${paths.name}"`);
  }
  const left = mountsAtOrUnder(paths.dir);
  if (left.length > 0) {
    // Never delete into a mount: that would delete what is mounted, not the sandbox.
    throw new RunbookError(
      'internal',
      `could not unmount ${left.map((m) => m.mountPoint).join(', ')}; ${paths.dir} was not deleted`,
    );
  }
  rmSync(paths.dir, { recursive: true, force: true });
}

export interface SandboxSummary {
  name: string;
  dir: string;
  stateDir: string;
  alive: boolean;
  netns: string | undefined;
  runs: RunIndex[];
}

/** Every sandbox under the state dir, with its runs, by name. */
export function listSandboxes(store: RunStore): SandboxSummary[] {
  const root = store.sandboxesDir();
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && isMadeByCreate(path.join(root, e.name)))
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const paths = pathsOf(name, realpathSync(path.join(root, name)));
      const liveness = sandboxLiveness(paths);
      return {
        name,
        dir: paths.dir,
        stateDir: paths.stateDir,
        alive: liveness.alive,
        netns: liveness.alive ? liveness.netns : undefined,
        runs: openRunStore(paths.stateDir, 'read', { trust: store.trust }).listRuns(),
      };
    });
}
