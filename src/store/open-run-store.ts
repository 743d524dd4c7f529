import path from 'node:path';
import { trustedUsers, type TrustedUsers } from '../trust/trusted-users.js';
import { RunStore, type StoreAccess } from './run-store.js';
import { trustStateDir } from './trust-state-dir.js';

export interface OpenOptions {
  /** Whose files to believe; this process's rule by default (src/trust/trusted-users.ts). */
  trust?: TrustedUsers | undefined;
  /**
   * A state dir of the user's own to offer when this one is refused (the CLI's default outside
   * a checkout: /var/lib/runbook for root), so that the hint works when followed.
   */
  ownStateDir?: string | undefined;
}

/**
 * The one door to a state dir (issue 22): checks that it may be trusted (trust-state-dir.ts:
 * owners, modes, links, the dirs above it, every entry runbook uses) and returns the handle
 * through which everything in it is read and written. Exit 2, before anything is read or
 * changed, when it may not. `write` also creates it (0700) when missing.
 *
 * Every entry point opens its state dir here, first: each command (src/cli/door.ts, in main's
 * hook before any action and before any automatic revert), the watchdog process, `--in`, and
 * the sandbox commands for a sandbox's own state dir. Nothing else opens one, and the engine
 * only ever receives the store.
 */
export function openRunStore(stateDir: string, access: StoreAccess, options: OpenOptions = {}): RunStore {
  const dir = stateDir === '' ? '' : path.resolve(stateDir); // '' is refused by name
  const trust = options.trust ?? trustedUsers();
  trustStateDir(dir, access, trust, options.ownStateDir);
  return new RunStore(dir, access, trust);
}
