import { readFileSync } from 'node:fs';
import { RunbookError } from '../errors.js';
import type { Advice } from '../suggestion.js';

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

/**
 * Refuses, before any change, to run without the capability the commands need: a run that
 * would fail on its first `ip` command leaves a journal full of "Operation not permitted".
 */
export function requireNetAdmin(
  what: string,
  hint: string | Advice = 'try again with sudo, e.g.: sudo npx runbook run single-container --sandbox',
): void {
  if (!has(CAP_NET_ADMIN)) {
    throw new RunbookError('not-permitted', `${what} needs CAP_NET_ADMIN (run as root); nothing was changed`, { hint });
  }
}

/** Creating a sandbox host (unshare --net --mount) also needs CAP_SYS_ADMIN. */
export function requireSandboxCaps(): void {
  if (!has(CAP_NET_ADMIN) || !has(CAP_SYS_ADMIN)) {
    throw new RunbookError(
      'not-permitted',
      'a sandbox host needs CAP_SYS_ADMIN and CAP_NET_ADMIN (run as root); nothing was changed',
      {
        hint: 'try again with sudo',
      },
    );
  }
}
