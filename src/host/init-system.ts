import { lstatSync, readlinkSync } from 'node:fs';

/**
 * Whether systemd can revert a run made here at its deadline (issue 24): systemd is this
 * machine's init (sd_booted's test: /run/systemd/system is a directory), and this process is
 * in PID 1's network and mount namespaces — a service systemd starts runs there, so a run made
 * in a sandbox host or another namespace would be reverted on the wrong host (it refuses, by
 * its host binding). Reading /proc/1/ns needs root; without it, no.
 */
export function systemdCanRevertHere(): boolean {
  try {
    if (!lstatSync('/run/systemd/system').isDirectory()) return false;
    return ['net', 'mnt'].every((ns) => readlinkSync(`/proc/1/ns/${ns}`) === readlinkSync(`/proc/self/ns/${ns}`));
  } catch {
    return false;
  }
}
