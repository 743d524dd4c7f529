import type { JournalLine } from '../../src/journal/entries.js';
import type { RecordedRun } from '../../src/topology/provenance.js';
import type { IpLink, IpRoute, KernelReading, NamespaceReading } from '../../src/topology/read-kernel.js';

/** A veth end as `ip -j -d addr show` prints it. */
export function veth(
  ifindex: number,
  ifname: string,
  peer: { ifindex: number; nsid?: number },
  extra: Partial<IpLink> & { addresses?: string[] } = {},
): IpLink {
  const { addresses = [], ...rest } = extra;
  return {
    ifindex,
    ifname,
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    link_index: peer.ifindex,
    ...(peer.nsid === undefined ? {} : { link_netnsid: peer.nsid }),
    linkinfo: { info_kind: 'veth' },
    addr_info: addresses.map(addressInfo),
    ...rest,
  };
}

export function loopback(up = true, addresses: string[] = up ? ['127.0.0.1/8'] : []): IpLink {
  return {
    ifindex: 1,
    ifname: 'lo',
    flags: up ? ['LOOPBACK', 'UP', 'LOWER_UP'] : ['LOOPBACK'],
    link_type: 'loopback',
    addr_info: [
      ...addresses.map((a) => ({ ...addressInfo(a), scope: 'host' })),
      { family: 'inet6', local: '::1', prefixlen: 128, scope: 'host' },
    ],
  };
}

export function bridge(ifindex: number, ifname: string, addresses: string[]): IpLink {
  return {
    ifindex,
    ifname,
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    linkinfo: { info_kind: 'bridge' },
    addr_info: addresses.map(addressInfo),
  };
}

function addressInfo(cidr: string): NonNullable<IpLink['addr_info']>[number] {
  const [local, prefixlen] = cidr.split('/') as [string, string];
  return { family: 'inet', local, prefixlen: Number(prefixlen), scope: 'global' };
}

export function kernelRoute(dst: string, dev: string, src: string): IpRoute {
  return { dst, dev, protocol: 'kernel', scope: 'link', prefsrc: src };
}

export function namespace(
  name: string | undefined,
  links: IpLink[],
  routes: IpRoute[] = [],
  nsids: Record<number, string | undefined> = {},
): NamespaceReading {
  return {
    name,
    links,
    routes,
    nsids: new Map(Object.entries(nsids).map(([id, n]) => [Number(id), n])),
    unreadable: [],
  };
}

/** The sandbox host after single-container: the host, lan (the uplink's side) and container1. */
export function singleContainerReading(): KernelReading {
  return {
    namespaces: [
      namespace(
        undefined,
        [
          loopback(),
          veth(3, 'enp0s8', { ifindex: 2, nsid: 0 }, { addresses: ['10.0.0.10/24'] }),
          veth(6, 'veth1', { ifindex: 5, nsid: 1 }),
        ],
        [
          { dst: 'default', gateway: '10.0.0.1', dev: 'enp0s8' },
          kernelRoute('10.0.0.0/24', 'enp0s8', '10.0.0.10'),
          { dst: '172.16.0.0/24', dev: 'veth1' },
        ],
        { 0: 'lan', 1: 'container1' },
      ),
      namespace(
        'container1',
        [loopback(false), veth(5, 'ceth1', { ifindex: 6, nsid: 0 }, { addresses: ['172.16.0.2/24'] })],
        [{ dst: 'default', gateway: '172.16.0.2', dev: 'ceth1' }, kernelRoute('172.16.0.0/24', 'ceth1', '172.16.0.2')],
        { 0: undefined },
      ),
      namespace(
        'lan',
        [
          loopback(true, ['127.0.0.1/8', '198.51.100.1/32']),
          veth(2, 'lan0', { ifindex: 3, nsid: 0 }, { addresses: ['10.0.0.1/24'] }),
        ],
        [kernelRoute('10.0.0.0/24', 'lan0', '10.0.0.1')],
        { 0: undefined },
      ),
    ],
    ipForward: '0',
    iptables: {
      nat: ['-P PREROUTING ACCEPT', '-P INPUT ACCEPT', '-P OUTPUT ACCEPT', '-P POSTROUTING ACCEPT'],
      filter: ['-P INPUT ACCEPT', '-P FORWARD ACCEPT', '-P OUTPUT ACCEPT'],
    },
  };
}

/** A run of single-container that made every step, as its journal records it. */
export function singleContainerRun(id = '20261129T182755.769Z-4eed'): RecordedRun {
  const steps: Array<[string, string[]]> = [
    ['namespace', ['ip', 'netns', 'add', 'container1']],
    ['veth-pair', ['ip', 'link', 'add', 'name', 'veth1', 'type', 'veth', 'peer', 'name', 'ceth1']],
    ['move-container-end', ['ip', 'link', 'set', 'dev', 'ceth1', 'netns', 'container1']],
    ['host-end-up', ['ip', 'link', 'set', 'dev', 'veth1', 'up']],
    ['container-address', ['ip', '-n', 'container1', 'addr', 'add', '172.16.0.2/24', 'dev', 'ceth1']],
    ['host-route', ['ip', 'route', 'add', '172.16.0.0/24', 'dev', 'veth1']],
    [
      'container-default-route',
      ['ip', '-n', 'container1', 'route', 'add', 'default', 'via', '172.16.0.2', 'dev', 'ceth1'],
    ],
  ];
  const lines: Array<Record<string, unknown>> = [
    { type: 'run-start', plan: { steps: steps.map(([step, argv]) => ({ id: step, do: [{ argv }] })) } },
  ];
  for (const [step, argv] of steps) {
    lines.push({ type: 'command-start', step, phase: 'do', index: 0, argv });
    lines.push({ type: 'command-end', step, phase: 'do', index: 0, exitCode: 0, timedOut: false });
    lines.push({ type: 'step-end', step, outcome: 'changed' });
  }
  return { run: { id, runbook: 'single-container', status: 'succeeded' }, lines: lines as unknown as JournalLine[] };
}

export const sandboxHost = { hostname: 'vm', netns: 'net:[4026532603]', sandbox: undefined };

/** The sandbox host after multi-container with `count` containers on br0 and NAT (part 3). */
export function multiContainerReading(count: number): KernelReading {
  const containers = Array.from({ length: count }, (_, i) => i + 1);
  const hostIndex = (n: number) => 4 + 2 * n; // veth n; ceth n is hostIndex(n) - 1
  return {
    namespaces: [
      namespace(
        undefined,
        [
          loopback(),
          veth(3, 'enp0s8', { ifindex: 2, nsid: 0 }, { addresses: ['10.0.0.10/24'] }),
          bridge(4, 'br0', ['172.16.0.1/24']),
          ...containers.map((n) =>
            veth(hostIndex(n), `veth${n}`, { ifindex: hostIndex(n) - 1, nsid: n }, { master: 'br0' }),
          ),
        ],
        [
          { dst: 'default', gateway: '10.0.0.1', dev: 'enp0s8' },
          kernelRoute('10.0.0.0/24', 'enp0s8', '10.0.0.10'),
          kernelRoute('172.16.0.0/24', 'br0', '172.16.0.1'),
        ],
        Object.fromEntries([[0, 'lan'], ...containers.map((n) => [n, `container${n}`])]),
      ),
      ...containers.map((n) =>
        namespace(
          `container${n}`,
          [
            loopback(),
            veth(
              hostIndex(n) - 1,
              `ceth${n}`,
              { ifindex: hostIndex(n), nsid: 0 },
              { addresses: [`172.16.0.${n + 1}/24`] },
            ),
          ],
          [
            { dst: 'default', gateway: '172.16.0.1', dev: `ceth${n}` },
            kernelRoute('172.16.0.0/24', `ceth${n}`, `172.16.0.${n + 1}`),
          ],
          { 0: undefined },
        ),
      ),
      namespace(
        'lan',
        [
          loopback(true, ['127.0.0.1/8', '198.51.100.1/32']),
          veth(2, 'lan0', { ifindex: 3, nsid: 0 }, { addresses: ['10.0.0.1/24'] }),
        ],
        [kernelRoute('10.0.0.0/24', 'lan0', '10.0.0.1')],
        { 0: undefined },
      ),
    ],
    ipForward: '1',
    iptables: {
      nat: ['-P POSTROUTING ACCEPT', '-A POSTROUTING -s 172.16.0.0/24 -j MASQUERADE'],
      filter: ['-P INPUT ACCEPT', '-P FORWARD ACCEPT', '-P OUTPUT ACCEPT'],
    },
  };
}
