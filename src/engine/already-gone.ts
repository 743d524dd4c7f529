import type { CommandResult } from '../exec/types.js';

/**
 * What an undo command says when the thing it removes is not there: `ip` and `iptables` in the
 * words they use. Undo treats "already gone" as done (like CNI's DEL); any other failure (no
 * permission, busy, timed out, not installed) means the undo did not happen, and a rollback
 * must not call the step undone because its checks happen to pass (issue 11).
 */
const alreadyGone: readonly RegExp[] = [
  /Cannot find device/, // ip link/addr/route … dev X
  /No such file or directory/, // ip netns del X, ip -n X …
  /No such process/, // ip route del: no such route
  /Cannot assign requested address/, // ip addr del: no such address (older iproute2)
  /Address not found/, // ip addr del: no such address ("Error: ipv4: Address not found.")
  /FIB table does not exist/, // ip route del in a namespace with no routes left
  /does a matching rule exist/, // iptables -D: no such rule
  /No such device/,
];

/** Why a finished undo command did not undo, or undefined when it did or found nothing to undo. */
export function undoFailure(argv: readonly string[], result: CommandResult): string | undefined {
  if (result.exitCode === 0 && !result.timedOut) return undefined;
  const output = `${result.stderr}\n${result.stdout}`;
  const finished = result.exitCode !== undefined && !result.timedOut && result.startError === undefined;
  if (finished && alreadyGone.some((pattern) => pattern.test(output))) return undefined;
  const why =
    result.startError ??
    (result.timedOut
      ? `timed out after ${result.durationMs} ms`
      : result.exitCode === undefined
        ? `killed by ${result.signal}`
        : `exit ${result.exitCode}`);
  const said = output.trim().split('\n')[0];
  return `its undo \`${argv.join(' ')}\` failed (${why}${said ? `: ${said}` : ''})`;
}
