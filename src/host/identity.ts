import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { readEnv } from '../env.js';
import type { HostIdentity } from '../journal/entries.js';

/** Prefix of the names given to one-shot `--sandbox` hosts, which vanish with their command. */
export const oneShotSandboxPrefix = 'one-shot-';

/** The network namespace this process acts on, as the kernel names it ("net:[4026531840]"). */
export function currentNetns(): string {
  return readlinkSync('/proc/self/ns/net');
}

/** Which host (and network namespace) a run acts on, recorded in its journal. */
export function currentHost(): HostIdentity {
  return { hostname: hostname(), netns: currentNetns(), sandbox: readEnv('sandbox') || undefined };
}

/** Who started a run: uid, and the invoking user when run through sudo. */
export function currentUser(): { uid: number; sudoUser: string | undefined } {
  return { uid: process.getuid?.() ?? -1, sudoUser: readEnv('sudoUser') || undefined };
}
