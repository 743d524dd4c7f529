import type { HostIdentity } from '../journal/entries.js';
import { canonicalRule } from './effects.js';
import type { Address, Edge, Forwarding, Link, NetNamespace, Route, Rule, Topology } from './model.js';
import { unknown, type Ledger, type Provenance } from './provenance.js';
import type { IpLink, IpRoute, KernelReading, NamespaceReading } from './read-kernel.js';

/**
 * The picture from what was read: the kernel decides what is drawn, the ledger (the journals)
 * who made each piece. Veth pairs are matched end to end by ifindex: a veth names its peer's
 * ifindex (`link_index`) and, when the peer is in another namespace, that namespace's number as
 * this one sees it (`link_netnsid`), which `ip netns list-id` turns into a name. Pure.
 */
export function buildTopology(options: {
  reading: KernelReading;
  ledger: Ledger;
  host: HostIdentity;
  highlight?: string | undefined;
}): Topology {
  const { reading, ledger } = options;
  const namespaces = reading.namespaces.map((ns) => namespaceOf(ns, ledger));
  const unreadable = reading.namespaces.flatMap((ns) =>
    ns.unreadable.map((why) => `${ns.name === undefined ? 'host' : `namespace ${ns.name}`}: ${why}`),
  );
  const host = namespaces[0];
  if (host !== undefined) host.forwarding = forwardingOf(reading, ledger, unreadable);
  const edges = [...vethEdges(reading, namespaces), ...portEdges(reading, namespaces, ledger)];
  return {
    host: { hostname: options.host.hostname, netns: options.host.netns, sandbox: options.host.sandbox },
    namespaces,
    edges,
    runs: runsOf(namespaces, edges),
    highlight: options.highlight,
    unreadable,
  };
}

function idOf(name: string | undefined): string {
  return name === undefined ? 'host' : `netns:${name}`;
}

/** The ledger's name for a namespace: "" for the host (where the runs' plain commands act). */
function ledgerNs(name: string | undefined): string {
  return name ?? '';
}

function namespaceOf(reading: NamespaceReading, ledger: Ledger): NetNamespace {
  const ns = ledgerNs(reading.name);
  const own = reading.name === undefined ? undefined : ledger.netns(reading.name);
  const links = [...reading.links]
    .sort((a, b) => a.ifindex - b.ifindex)
    .map((link): Link => {
      // A namespace comes with its loopback: whoever made the one made the other.
      const inherent = link.ifname === 'lo' && own !== undefined && own.kind !== 'unknown';
      const provenance = inherent ? own : ledger.link(ns, link.ifname);
      return {
        name: link.ifname,
        ifindex: link.ifindex,
        kind: link.linkinfo?.info_kind ?? link.link_type ?? 'link',
        up: (link.flags ?? []).includes('UP'),
        master: link.master,
        peer: undefined,
        addresses: addressesOf(link, ns, ledger, inherent ? own : undefined),
        provenance,
      };
    });
  return {
    id: idOf(reading.name),
    name: reading.name,
    label: reading.name ?? 'host',
    provenance: own,
    links,
    routes: reading.routes.map((route) => routeOf(route, ns, links, ledger)),
    forwarding: undefined,
  };
}

/**
 * IPv4 addresses, and IPv6 ones of global scope: the link-local fe80::/64 every link gets
 * would only crowd the picture.
 */
function addressesOf(link: IpLink, ns: string, ledger: Ledger, inherent: Provenance | undefined): Address[] {
  return (link.addr_info ?? []).flatMap((info): Address[] => {
    if (info.local === undefined || info.prefixlen === undefined) return [];
    const family = info.family === 'inet6' ? 'inet6' : 'inet';
    if (family === 'inet6' && info.scope !== 'global') return [];
    const address = `${info.local}/${info.prefixlen}`;
    const recorded = ledger.address(ns, link.ifname, address);
    return [{ address, family, provenance: recorded.kind === 'unknown' && inherent ? inherent : recorded }];
  });
}

function routeOf(route: IpRoute, ns: string, links: readonly Link[], ledger: Ledger): Route {
  const kernel = route.protocol === 'kernel';
  const type = route.type !== undefined && route.type !== 'unicast' ? `${route.type} ` : '';
  const text = [
    `${type}${route.dst}`,
    route.gateway === undefined ? '' : ` via ${route.gateway}`,
    route.dev === undefined ? '' : ` dev ${route.dev}`,
    kernel ? ' (kernel)' : '',
  ].join('');
  // The kernel adds a subnet route for each address: it is the address's, and so is its maker.
  const fromAddress = kernel
    ? links.find((l) => l.name === route.dev)?.addresses.find((a) => a.address.split('/')[0] === route.prefsrc)
        ?.provenance
    : undefined;
  return {
    dst: route.dst,
    via: route.gateway,
    dev: route.dev,
    kernel,
    text,
    provenance: fromAddress ?? ledger.route(ns, route.dst, route.dev),
  };
}

/** The tables drawn: what decides whether and how the host forwards the containers' packets. */
const drawnChains: ReadonlyArray<{ table: 'nat' | 'filter'; chain: string }> = [
  { table: 'nat', chain: 'POSTROUTING' },
  { table: 'filter', chain: 'FORWARD' },
];

function forwardingOf(reading: KernelReading, ledger: Ledger, unreadable: string[]): Forwarding {
  const rules: Rule[] = [];
  for (const table of ['nat', 'filter'] as const) {
    const lines = reading.iptables[table];
    if (!Array.isArray(lines)) {
      unreadable.push(`host: the iptables ${table} table could not be read: ${lines.unreadable}`);
      continue;
    }
    // The built-in chains drawn, and every chain of the table's own (a runbook's filter chain).
    const own = new Set(lines.flatMap((line) => (line.startsWith('-N ') ? [line.slice(3)] : [])));
    const drawn = (chain: string) => own.has(chain) || drawnChains.some((c) => c.table === table && c.chain === chain);
    for (const line of lines) {
      const [op, chain, ...words] = line.split(' ');
      if (chain === undefined || !drawn(chain)) continue;
      // The policy of FORWARD says whether anything is forwarded at all; NAT's is always ACCEPT.
      if (op === '-P' && table === 'filter')
        rules.push({ table, chain, text: `policy ${words.join(' ')}`, provenance: unknown });
      if (op !== '-A') continue;
      const spec = canonicalRule(words);
      rules.push({ table, chain, text: words.join(' '), provenance: ledger.rule('', table, chain, spec) });
    }
  }
  const value = typeof reading.ipForward === 'string' ? reading.ipForward : undefined;
  if (typeof reading.ipForward !== 'string')
    unreadable.push(`host: net.ipv4.ip_forward could not be read: ${reading.ipForward.unreadable}`);
  return {
    ipForward: value,
    ipForwardProvenance: value === undefined ? unknown : ledger.sysctl('', 'net.ipv4.ip_forward', value),
    rules,
  };
}

/** Each veth pair once, from the end drawn first (the host's, for a container's cable). */
function vethEdges(reading: KernelReading, namespaces: NetNamespace[]): Edge[] {
  const edges: Edge[] = [];
  const seen = new Set<string>();
  reading.namespaces.forEach((ns, i) => {
    const drawn = namespaces[i] as NetNamespace;
    for (const link of ns.links) {
      if (!isVeth(link) || link.link_index === undefined) continue;
      const mine = drawn.links.find((l) => l.name === link.ifname) as Link;
      const from = { namespace: drawn.id, link: link.ifname };
      const peer = findPeer(reading, ns, link);
      const to =
        peer === undefined
          ? unseenEnd(reading, namespaces, drawn, link)
          : { namespace: idOf(peer.ns.name), link: peer.link.ifname };
      mine.peer = to;
      const key = JSON.stringify([from, to].map((end) => [end.namespace, end.link]).sort());
      if (seen.has(key)) continue;
      seen.add(key);
      // A pair is made in one go: the cable is whoever made either end.
      const theirs = namespaces.find((n) => n.id === to.namespace)?.links.find((l) => l.name === to.link);
      const provenance = [mine.provenance, theirs?.provenance].find((p) => p !== undefined && p.kind !== 'unknown');
      edges.push({ kind: 'veth', from, to, provenance: provenance ?? unknown });
    }
  });
  return edges;
}

/**
 * The far end of a veth whose peer was not found: in a namespace that could not be read (its
 * box is drawn, this end named by its ifindex, as `ip link` does: `@if7`), or in one that has
 * no name here (a process's own, say), drawn as a box of its own.
 */
function unseenEnd(
  reading: KernelReading,
  namespaces: NetNamespace[],
  seenFrom: NetNamespace,
  link: IpLink,
): { namespace: string; link: string } {
  const nsid = link.link_netnsid;
  const readingOf = reading.namespaces.find((ns) => idOf(ns.name) === seenFrom.id);
  const named = nsid === undefined ? seenFrom.name : readingOf?.nsids.get(nsid);
  const id = named !== undefined || nsid === undefined ? idOf(named) : `unnamed:${seenFrom.id}:${nsid}`;
  let box = namespaces.find((n) => n.id === id);
  if (box === undefined) {
    box = {
      id,
      name: undefined,
      label: `unnamed (nsid ${nsid} in ${seenFrom.label})`,
      provenance: unknown,
      links: [],
      routes: [],
      forwarding: undefined,
    };
    namespaces.push(box);
  }
  const name = `if${link.link_index}`;
  if (!box.links.some((l) => l.name === name))
    box.links.push({
      name,
      ifindex: link.link_index ?? 0,
      kind: 'veth',
      up: undefined,
      master: undefined,
      peer: { namespace: seenFrom.id, link: link.ifname },
      addresses: [],
      provenance: unknown,
    });
  return { namespace: id, link: name };
}

function findPeer(
  reading: KernelReading,
  ns: NamespaceReading,
  link: IpLink,
): { ns: NamespaceReading; link: IpLink } | undefined {
  if (link.link_netnsid === undefined) {
    // Both ends in this namespace, where ifindexes are unique.
    const candidate = ns.links.find((l) => l.ifindex === link.link_index && isVeth(l));
    return candidate === undefined ? undefined : { ns, link: candidate };
  }
  // Elsewhere, ifindexes repeat: the two ends must name each other, each in the namespace the
  // other is in (as each numbers it), and one namespace with no name here can be the host.
  const found = reading.namespaces.flatMap((other) =>
    other === ns || !couldBe(ns, link.link_netnsid, other)
      ? []
      : other.links
          .filter(
            (l) =>
              isVeth(l) &&
              l.ifindex === link.link_index &&
              l.link_index === link.ifindex &&
              couldBe(other, l.link_netnsid, ns),
          )
          .map((l) => ({ ns: other, link: l })),
  );
  return found.length === 1 ? found[0] : undefined;
}

function isVeth(link: IpLink): boolean {
  return link.linkinfo?.info_kind === 'veth';
}

/** Whether the namespace `from` numbers `nsid` could be `other`: its name, or no name it knows. */
function couldBe(from: NamespaceReading, nsid: number | undefined, other: NamespaceReading): boolean {
  if (nsid === undefined) return false;
  const named = from.nsids.get(nsid);
  if (named !== undefined) return named === other.name;
  return other.name === undefined || ![...from.nsids.values()].includes(other.name);
}

function portEdges(reading: KernelReading, namespaces: readonly NetNamespace[], ledger: Ledger): Edge[] {
  return reading.namespaces.flatMap((ns, i) => {
    const drawn = namespaces[i] as NetNamespace;
    return ns.links.flatMap((link): Edge[] =>
      link.master === undefined
        ? []
        : [
            {
              kind: 'port',
              from: { namespace: drawn.id, link: link.ifname },
              to: { namespace: drawn.id, link: link.master },
              provenance: ledger.port(ledgerNs(ns.name), link.ifname, link.master),
            },
          ],
    );
  });
}

/** The runs the picture refers to, oldest first (run ids sort by start time), labelled r1, r2, …. */
function runsOf(namespaces: readonly NetNamespace[], edges: readonly Edge[]): Topology['runs'] {
  const all: Array<Provenance | undefined> = [
    ...namespaces.flatMap((ns) => [
      ns.provenance,
      ...ns.links.flatMap((l) => [l.provenance, ...l.addresses.map((a) => a.provenance)]),
      ...ns.routes.map((r) => r.provenance),
      ...(ns.forwarding === undefined
        ? []
        : [ns.forwarding.ipForwardProvenance, ...ns.forwarding.rules.map((r) => r.provenance)]),
    ]),
    ...edges.map((e) => e.provenance),
  ];
  const runs = new Map<string, Topology['runs'][number]>();
  for (const p of all) if (p !== undefined && p.kind !== 'unknown') runs.set(p.run.id, { ...p.run, label: '' });
  return [...runs.values()].sort((a, b) => a.id.localeCompare(b.id)).map((run, i) => ({ ...run, label: `r${i + 1}` }));
}
