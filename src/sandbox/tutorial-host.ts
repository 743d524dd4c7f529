/**
 * A sandbox host that behaves like the tutorial's VM: run inside a fresh network + mount
 * namespace, these commands give it an uplink `enp0s8` with 10.0.0.10/24, a gateway 10.0.0.1
 * in a "lan" namespace, and a stand-in internet address 198.51.100.1 behind that gateway.
 * (The `dummy` link type is not available everywhere, so the uplink is a veth.)
 *
 * Nothing here may run outside a fresh namespace: callers check that first (assertIsolated).
 */
/** Inside every sandbox host: a tmpfs of its own, gone with it (see tutorialHostSetup). */
export const sandboxScratchDir = '/run/runbook-sandbox';

export const tutorialHostSetup: ReadonlyArray<readonly string[]> = [
  // A private `ip netns` registry: namespaces created in the sandbox are invisible outside it
  // and vanish with it.
  ['mount', '--make-rprivate', '/'],
  ['mkdir', '-p', '/run/netns'],
  ['mount', '-t', 'tmpfs', 'tmpfs', '/run/netns'],
  // A private scratch dir for runbooks that write files (sandbox defaults point there): files
  // are not isolated by the namespaces, so without it a sandbox run would write the real host's.
  ['mkdir', '-p', sandboxScratchDir],
  ['mount', '-t', 'tmpfs', 'tmpfs', sandboxScratchDir],
  ['ip', 'link', 'set', 'lo', 'up'],
  ['ip', 'link', 'add', 'enp0s8', 'type', 'veth', 'peer', 'name', 'lan0'],
  ['ip', 'netns', 'add', 'lan'],
  ['ip', 'link', 'set', 'lan0', 'netns', 'lan'],
  ['ip', 'addr', 'add', '10.0.0.10/24', 'dev', 'enp0s8'],
  ['ip', 'link', 'set', 'enp0s8', 'up'],
  ['ip', '-n', 'lan', 'link', 'set', 'lo', 'up'],
  ['ip', '-n', 'lan', 'addr', 'add', '10.0.0.1/24', 'dev', 'lan0'],
  ['ip', '-n', 'lan', 'link', 'set', 'lan0', 'up'],
  ['ip', '-n', 'lan', 'addr', 'add', '198.51.100.1/32', 'dev', 'lo'],
  ['ip', 'route', 'add', 'default', 'via', '10.0.0.1', 'dev', 'enp0s8'],
];

/** The addresses a sandbox host offers, for messages and tests. */
export const tutorialHostAddresses = { hostIp: '10.0.0.10', gateway: '10.0.0.1', internet: '198.51.100.1' } as const;
