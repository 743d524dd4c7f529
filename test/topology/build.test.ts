import { describe, expect, it } from 'vitest';
import { buildTopology } from '../../src/topology/build.js';
import { Ledger } from '../../src/topology/provenance.js';
import type { KernelReading } from '../../src/topology/read-kernel.js';
import {
  bridge,
  kernelRoute,
  loopback,
  namespace,
  sandboxHost,
  singleContainerReading,
  singleContainerRun,
  veth,
} from './fixtures.js';

const build = (reading: KernelReading, ledger = Ledger.of([]), highlight?: string) =>
  buildTopology({ reading, ledger, host: sandboxHost, highlight });

describe('buildTopology: the picture from the kernel and the journals (issue 29)', () => {
  it('draws the host first, then every named namespace by name', () => {
    const topology = build(singleContainerReading());
    expect(topology.namespaces.map((ns) => ns.id)).toEqual(['host', 'netns:container1', 'netns:lan']);
  });

  it('joins the two ends of each veth pair across namespaces, once per pair', () => {
    const topology = build(singleContainerReading());
    expect(topology.edges).toEqual([
      {
        kind: 'veth',
        from: { namespace: 'host', link: 'enp0s8' },
        to: { namespace: 'netns:lan', link: 'lan0' },
        provenance: { kind: 'unknown' },
      },
      {
        kind: 'veth',
        from: { namespace: 'host', link: 'veth1' },
        to: { namespace: 'netns:container1', link: 'ceth1' },
        provenance: { kind: 'unknown' },
      },
    ]);
    const ceth1 = topology.namespaces[1]?.links.find((l) => l.name === 'ceth1');
    expect(ceth1?.peer).toEqual({ namespace: 'host', link: 'veth1' });
  });

  it('does not take a namesake for a peer: the ends must point at each other and at each other’s namespace', () => {
    const reading = singleContainerReading();
    // container2 holds a veth with ceth1's ifindexes whose peer is in a namespace it cannot
    // name: the host could be it by the numbers, but the host's veth1 points at container1.
    reading.namespaces.push(namespace('container2', [veth(5, 'ceth9', { ifindex: 6, nsid: 0 })], [], { 0: undefined }));
    const topology = build(reading);
    const veth1 = topology.namespaces[0]?.links.find((l) => l.name === 'veth1');
    expect(veth1?.peer).toEqual({ namespace: 'netns:container1', link: 'ceth1' });
    const ceth9 = topology.namespaces.find((n) => n.id === 'netns:container2')?.links[0];
    expect(ceth9?.peer?.namespace).toMatch(/^unnamed:/);
  });

  it('joins a pair whose two ends are both still in the host (before one end moves)', () => {
    const reading = singleContainerReading();
    const host = reading.namespaces[0];
    if (host === undefined) throw new Error('no host');
    host.links = [
      ...host.links.filter((l) => l.ifname !== 'veth1'),
      veth(5, 'ceth1', { ifindex: 6 }),
      veth(6, 'veth1', { ifindex: 5 }),
    ];
    const topology = build(reading);
    expect(
      topology.edges.filter((e) => e.kind === 'veth' && e.from.namespace === 'host' && e.to.namespace === 'host'),
    ).toEqual([
      {
        kind: 'veth',
        from: { namespace: 'host', link: 'ceth1' },
        to: { namespace: 'host', link: 'veth1' },
        provenance: { kind: 'unknown' },
      },
    ]);
  });

  it('draws a peer in a namespace that has no name as a box of its own', () => {
    const reading = singleContainerReading();
    reading.namespaces[0]?.links.push(veth(9, 'vethpod', { ifindex: 4, nsid: 7 }));
    const topology = build(reading);
    const box = topology.namespaces.find((n) => n.id === 'unnamed:host:7');
    expect(box?.label).toBe('unnamed (nsid 7 in host)');
    expect(box?.links.map((l) => l.name)).toEqual(['if4']);
    expect(topology.edges.at(-1)).toMatchObject({
      from: { link: 'vethpod' },
      to: { namespace: 'unnamed:host:7', link: 'if4' },
    });
  });

  it('draws a cable to a namespace that could not be read to its box, the far end by number', () => {
    const reading = singleContainerReading();
    const lan = reading.namespaces[2];
    if (lan === undefined) throw new Error('no lan');
    lan.links = [];
    lan.unreadable.push('it could not be read: Operation not permitted');
    const topology = build(reading);
    expect(topology.edges[0]).toMatchObject({ from: { link: 'enp0s8' }, to: { namespace: 'netns:lan', link: 'if2' } });
    expect(topology.namespaces.find((n) => n.id === 'netns:lan')?.links).toMatchObject([
      { name: 'if2', up: undefined },
    ]);
    expect(topology.namespaces.some((n) => n.id.startsWith('unnamed:'))).toBe(false);
  });

  it('marks each piece with the run that made it, and the rest unknown', () => {
    const run = singleContainerRun();
    const topology = build(singleContainerReading(), Ledger.of([run]));
    const [host, container1, lan] = topology.namespaces;
    const made = { kind: 'made', run: run.run };
    expect(container1?.provenance).toEqual(made);
    expect(container1?.links.map((l) => [l.name, l.provenance])).toEqual([
      ['lo', made], // comes with the namespace
      ['ceth1', made],
    ]);
    expect(container1?.links[1]?.addresses).toEqual([{ address: '172.16.0.2/24', family: 'inet', provenance: made }]);
    expect(host?.links.find((l) => l.name === 'veth1')?.provenance).toEqual(made);
    expect(host?.links.find((l) => l.name === 'enp0s8')?.provenance).toEqual({ kind: 'unknown' });
    expect(host?.routes.map((r) => [r.text, r.provenance.kind])).toEqual([
      ['default via 10.0.0.1 dev enp0s8', 'unknown'],
      ['10.0.0.0/24 dev enp0s8 (kernel)', 'unknown'],
      ['172.16.0.0/24 dev veth1', 'made'],
    ]);
    // The kernel's subnet route comes with the address: whoever made the one made the other.
    expect(container1?.routes.map((r) => r.provenance.kind)).toEqual(['made', 'made']);
    expect(lan?.provenance).toEqual({ kind: 'unknown' });
    expect(topology.edges[1]?.provenance).toEqual(made);
    expect(topology.runs).toEqual([{ ...run.run, label: 'r1' }]);
  });

  it('lists only the runs some piece drawn refers to', () => {
    const rolledBackElsewhere = { ...singleContainerRun('20261129T100000.000Z-aaaa'), lines: [] };
    const topology = build(singleContainerReading(), Ledger.of([rolledBackElsewhere]));
    expect(topology.runs).toEqual([]);
  });

  it('draws bridge ports, forwarding and the NAT and FORWARD rules on the host', () => {
    const reading: KernelReading = {
      namespaces: [
        namespace(
          undefined,
          [
            loopback(),
            bridge(4, 'br0', ['172.16.0.1/24']),
            veth(6, 'veth1', { ifindex: 5, nsid: 1 }, { master: 'br0' }),
          ],
          [kernelRoute('172.16.0.0/24', 'br0', '172.16.0.1')],
          { 1: 'container1' },
        ),
      ],
      ipForward: '1',
      iptables: {
        nat: ['-P POSTROUTING ACCEPT', '-A POSTROUTING -s 172.16.0.0/24 -j MASQUERADE'],
        filter: [
          '-P FORWARD DROP',
          '-N runbook-fwd',
          '-A FORWARD -j runbook-fwd',
          '-A runbook-fwd -s 172.16.0.0/24 -j ACCEPT',
          '-A INPUT -j DROP',
        ],
      },
    };
    const topology = build(reading);
    expect(topology.edges).toContainEqual({
      kind: 'port',
      from: { namespace: 'host', link: 'veth1' },
      to: { namespace: 'host', link: 'br0' },
      provenance: { kind: 'unknown' },
    });
    expect(topology.namespaces[0]?.forwarding?.ipForward).toBe('1');
    expect(topology.namespaces[0]?.forwarding?.rules.map((r) => `${r.table} ${r.chain} ${r.text}`)).toEqual([
      'nat POSTROUTING -s 172.16.0.0/24 -j MASQUERADE',
      'filter FORWARD policy DROP',
      'filter FORWARD -j runbook-fwd',
      'filter runbook-fwd -s 172.16.0.0/24 -j ACCEPT',
    ]);
  });

  it('says what it could not read instead of drawing less in silence', () => {
    const reading = singleContainerReading();
    reading.iptables.nat = { unreadable: 'Permission denied (you must be root)' };
    reading.ipForward = { unreadable: 'EACCES' };
    reading.namespaces[1]?.unreadable.push('its links could not be read: Operation not permitted');
    expect(build(reading).unreadable).toEqual([
      'namespace container1: its links could not be read: Operation not permitted',
      'host: the iptables nat table could not be read: Permission denied (you must be root)',
      'host: net.ipv4.ip_forward could not be read: EACCES',
    ]);
  });
});
