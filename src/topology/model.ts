import type { Provenance, RunRef } from './provenance.js';

/**
 * The picture `runbook topology` draws (issue 29), as data: what the renderers (text, Mermaid,
 * DOT) draw and what `--json` prints. Built by build.ts from the live kernel and the journals.
 */
export interface Topology {
  /** Where this was read: the host (or sandbox host) this process acts on. */
  host: { hostname: string; netns: string; sandbox: string | undefined };
  /** The host first, then every named namespace by name, then peers' namespaces with no name. */
  namespaces: NetNamespace[];
  /** Veth pairs (a cable between two ends) and bridge ports (a link to its bridge). */
  edges: Edge[];
  /** The runs some object drawn was made or found by, oldest first, labelled r1, r2, …. */
  runs: Array<RunRef & { label: string }>;
  /** The run `--run` highlights: its objects stand out. */
  highlight: string | undefined;
  /** What could not be read (without root, say): the picture lacks it. */
  unreadable: string[];
}

export interface NetNamespace {
  /** "host", "netns:NAME", or "unnamed:…" for a peer's namespace that has no name. */
  id: string;
  /** undefined for the host and for a namespace with no name. */
  name: string | undefined;
  /** How the picture names it: "host", its name, or "unnamed (nsid 3 in host)". */
  label: string;
  /** undefined for the host itself, which no run makes. */
  provenance: Provenance | undefined;
  links: Link[];
  routes: Route[];
  /** The host's forwarding: ip_forward and the NAT and FORWARD rules (only on the host). */
  forwarding: Forwarding | undefined;
}

export interface Link {
  name: string;
  ifindex: number;
  /** veth, bridge, loopback, ether, … (the kernel's info_kind, else its link type). */
  kind: string;
  /** undefined: not known (the far end of a veth in a namespace that could not be read). */
  up: boolean | undefined;
  /** The bridge this link is a port of. */
  master: string | undefined;
  /** A veth's other end. */
  peer: { namespace: string; link: string } | undefined;
  addresses: Address[];
  provenance: Provenance;
}

export interface Address {
  /** With its prefix length: 172.16.0.2/24. */
  address: string;
  family: 'inet' | 'inet6';
  provenance: Provenance;
}

export interface Route {
  /** "default" or a network: 172.16.0.0/24. */
  dst: string;
  via: string | undefined;
  dev: string | undefined;
  /** Added by the kernel for an address (its subnet), not by anyone's `ip route add`. */
  kernel: boolean;
  /** The route as one line: "default via 10.0.0.1 dev enp0s8". */
  text: string;
  provenance: Provenance;
}

export interface Forwarding {
  /** The value of net.ipv4.ip_forward ("0" or "1"), or undefined when it could not be read. */
  ipForward: string | undefined;
  ipForwardProvenance: Provenance;
  rules: Rule[];
}

export interface Rule {
  table: 'nat' | 'filter';
  chain: string;
  /** The rule as `iptables -S` prints it, without `-A CHAIN`; a policy is "policy ACCEPT". */
  text: string;
  provenance: Provenance;
}

export interface Edge {
  kind: 'veth' | 'port';
  /** The ends: a namespace id and a link name (for a port: the port, then its bridge). */
  from: { namespace: string; link: string };
  to: { namespace: string; link: string };
  provenance: Provenance;
}

/** The short mark a renderer shows for a provenance: "made r1", "found r1", "unknown". */
export function markOf(topology: Pick<Topology, 'runs'>, provenance: Provenance | undefined): string {
  if (provenance === undefined) return '';
  if (provenance.kind === 'unknown') return 'unknown';
  const label = topology.runs.find((r) => r.id === provenance.run.id)?.label ?? provenance.run.id;
  return `${provenance.kind} ${label}`;
}

/** The provenance in words: "made by run ID of runbook NAME". */
export function describeProvenance(provenance: Provenance | undefined): string {
  if (provenance === undefined) return 'the host itself';
  if (provenance.kind === 'unknown') return 'unknown: no run recorded here made it or found it in place';
  const by = `run ${provenance.run.id} of runbook ${provenance.run.runbook}`;
  return provenance.kind === 'made' ? `made by ${by}` : `found in place by ${by}`;
}

/** Whether an object belongs to the run `--run` highlights. */
export function isHighlighted(topology: Pick<Topology, 'highlight'>, provenance: Provenance | undefined): boolean {
  return topology.highlight !== undefined && provenance !== undefined && provenance.kind !== 'unknown'
    ? provenance.run.id === topology.highlight
    : false;
}

/** How the pictures title a namespace's box: "host (sandbox lab)", "namespace container1". */
export function titleOf(topology: Pick<Topology, 'host'>, ns: NetNamespace): string {
  if (ns.id === 'host') return topology.host.sandbox === undefined ? 'host' : `host (sandbox ${topology.host.sandbox})`;
  return ns.name === undefined ? ns.label : `namespace ${ns.label}`;
}

/** "veth UP", "bridge DOWN", or just "veth" when its state is not known. */
export function kindAndState(link: Pick<Link, 'kind' | 'up'>): string {
  return link.up === undefined ? `${link.kind}, not read` : `${link.kind} ${link.up ? 'UP' : 'DOWN'}`;
}
