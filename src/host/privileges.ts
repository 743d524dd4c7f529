import { readFileSync } from 'node:fs';
import { RunbookError } from '../errors.js';
import { advice, sameCommandAsRoot, type Advice } from '../suggestion.js';

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;

function effectiveCaps(): bigint {
  const status = readFileSync('/proc/self/status', 'utf8');
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex === undefined ? 0n : BigInt(`0x${hex}`);
}

function has(cap: bigint): boolean {
  return ((effectiveCaps() >> cap) & 1n) === 1n;
}

/** What a command needs of root (issue 26): CAP_NET_ADMIN, or for a sandbox host CAP_SYS_ADMIN too. */
export type RootNeed = 'net-admin' | 'sandbox';

/** The refusal, in the words a user who is not root understands, with the same command under sudo. */
function needsRoot(what: string, caps: string, hint: string | Advice | undefined): RunbookError {
  return new RunbookError('not-permitted', `${what} needs root (${caps}); nothing was changed`, {
    hint: hint ?? advice`try again as root: ${sameCommandAsRoot()}`,
  });
}

/**
 * Refuses, before any change, to run without the capability the commands need: a run that
 * would fail on its first `ip` command leaves a journal full of "Operation not permitted".
 */
export function requireNetAdmin(what: string, hint?: string | Advice): void {
  if (!has(CAP_NET_ADMIN)) throw needsRoot(what, 'CAP_NET_ADMIN', hint);
}

/** Creating or entering a sandbox host (unshare --net --mount, nsenter) also needs CAP_SYS_ADMIN. */
export function requireSandboxCaps(what = 'a sandbox host'): void {
  if (!has(CAP_NET_ADMIN) || !has(CAP_SYS_ADMIN)) throw needsRoot(what, 'CAP_SYS_ADMIN and CAP_NET_ADMIN', undefined);
}

/** What a command declares it needs (its spec's `needsRoot`), checked before anything else. */
export function requireRoot(need: RootNeed, what: string): void {
  if (need === 'sandbox') requireSandboxCaps(what);
  else requireNetAdmin(what);
}
