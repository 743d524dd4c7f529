import { escapeControls } from '../text/plain-text.js';
import {
  describeProvenance,
  markOf,
  titleOf,
  type Link,
  type NetNamespace,
  type Topology,
  kindAndState,
} from './model.js';
import type { Provenance } from './provenance.js';
import { grey, lookOf, runColours, text as textColour, white } from './style.js';

/**
 * The topology in Graphviz's DOT language (`--format dot`; `--format svg` lays it out with
 * `dot`): a box (cluster) per namespace holding its links, each link a small table with its
 * addresses; a veth pair is a line between its two ends, a bridge port a line to the bridge,
 * a route an arrow-shaped note pointing at the link it leaves by. Every piece carries its mark
 * (made r1, found r1, unknown) in its label, and says it in full in its tooltip. The output
 * depends only on the topology (sorted as build.ts sorts it), so the same host draws the same.
 */

/** Monospaced: Graphviz measures its text exactly, so no label overflows its box in any viewer. */
const font = 'DejaVu Sans Mono';

/**
 * The layout, top to bottom: the namespace the host's default route leaves towards (the
 * uplink's side) above, the host in the middle (its links in a row, a bridge among its ports,
 * its routes and forwarding under them), every other namespace below, side by side, joined to
 * the host by their cables.
 */
export function renderDot(topology: Topology): string {
  const out: string[] = [
    'digraph topology {',
    `  graph [rankdir=TB, newrank=true, fontname="${font}", fontsize=11, nodesep=0.25, ranksep=0.3, pad=0.2, tooltip="runbook topology"];`,
    `  node [fontname="${font}", fontsize=10, shape=plain];`,
    `  edge [fontname="${font}", fontsize=9, color="${grey}"];`,
  ];
  topology.namespaces.forEach((ns) => out.push(...cluster(topology, ns)));
  const uplinks = new Set(
    topology.namespaces
      .find((ns) => ns.id === 'host')
      ?.routes.filter((r) => r.dst === 'default' && r.dev !== undefined)
      .map((r) => r.dev),
  );
  for (const edge of topology.edges) {
    const look = lookOf(topology, edge.provenance);
    const mark = markOf(topology, edge.provenance);
    const tip = `${edge.kind === 'veth' ? 'veth pair' : 'bridge port'} ${edge.from.link} – ${edge.to.link}: ${describeProvenance(edge.provenance)}`;
    // Cables run down from the host; the uplink's runs up, to what lies beyond it.
    const up = edge.kind === 'veth' && edge.from.namespace === 'host' && uplinks.has(edge.from.link);
    // A bridge above its ports.
    const [tail, head] = up || edge.kind === 'port' ? [edge.to, edge.from] : [edge.from, edge.to];
    const attributes = [
      'dir=none',
      edge.kind === 'veth' ? 'minlen=2' : '',
      `penwidth=${edge.kind === 'veth' ? (look.bold ? 4 : 2.5) : look.bold ? 3 : 1.5}`,
      look.dashed ? 'style=dashed' : '',
      `label=${quote(`${edge.kind}\n${mark}`)}`,
      `color=${quote(look.stroke === grey ? '#616161' : look.stroke)}`,
      `fontcolor=${quote(look.faded ? grey : textColour)}`,
      `tooltip=${quote(tip)}`,
    ].filter((a) => a !== '');
    out.push(
      `  ${quote(linkId(tail.namespace, tail.link))} -> ${quote(linkId(head.namespace, head.link))} [${attributes.join(', ')}];`,
    );
  }
  out.push(...legend(topology), '}');
  return `${out.join('\n')}\n`;
}

function cluster(topology: Topology, ns: NetNamespace): string[] {
  const look = lookOf(topology, ns.provenance);
  const title = titleOf(topology, ns);
  const mark = markOf(topology, ns.provenance);
  const label = `<<B>${html(title)}</B>${mark === '' ? '' : `  <FONT POINT-SIZE="9">${html(mark)}</FONT>`}>`;
  const out = [
    `  subgraph ${quote(`cluster ${ns.id}`)} {`,
    `    label=${label}; labeljust=l; style="rounded${look.dashed ? ',dashed' : ''}"; penwidth=${look.bold ? 3 : 1.5};`,
    `    color=${quote(ns.id === 'host' ? '#424242' : look.stroke)}; fontcolor=${quote(look.faded ? grey : textColour)}; tooltip=${quote(`${title}: ${describeProvenance(ns.provenance)}`)};`,
  ];
  const ids = ns.links.map((link) => linkId(ns.id, link.name));
  ns.links.forEach((link, i) => {
    const tip = `${link.name}: ${describeProvenance(link.provenance)}`;
    out.push(`    ${quote(ids[i] as string)} [label=${linkTable(topology, link)}, tooltip=${quote(tip)}];`);
  });
  // A namespace's links side by side, but a bridge's ports one row below it; what hangs off
  // the links (routes, forwarding) one row below them.
  const row = ns.links.filter((link) => link.master === undefined).map((link) => linkId(ns.id, link.name));
  if (row.length > 1) out.push(`    { rank=same; ${row.map(quote).join('; ')}; }`);
  const anchor = ids[0];
  ns.routes.forEach((route, i) => {
    const id = `${ns.id}/route/${i}`;
    const rlook = lookOf(topology, route.provenance);
    const text = route.dev === undefined ? route.text : route.text.replace(` dev ${route.dev}`, '');
    const attributes = [
      'shape=cds',
      `style=${quote(`filled${rlook.dashed ? ',dashed' : ''}`)}`,
      `fillcolor=${quote(rlook.fill)}`,
      `color=${quote(rlook.stroke)}`,
      `penwidth=${rlook.bold ? 3 : 1}`,
      `fontcolor=${quote(rlook.faded ? grey : textColour)}`,
      'margin="0.12,0.03"',
      `label=${quote(`${text}\n${markOf(topology, route.provenance)}`)}`,
      `tooltip=${quote(`route ${route.text}: ${describeProvenance(route.provenance)}`)}`,
    ];
    out.push(`    ${quote(id)} [${attributes.join(', ')}];`);
    // The arrow points from the route to the link it leaves by.
    const dev = route.dev !== undefined && ns.links.some((l) => l.name === route.dev) ? route.dev : undefined;
    if (dev !== undefined)
      out.push(
        `    ${quote(linkId(ns.id, dev))} -> ${quote(id)} [dir=back, arrowtail=vee, arrowsize=0.7, style=dashed];`,
      );
    else if (anchor !== undefined) out.push(`    ${quote(anchor)} -> ${quote(id)} [style=invis];`);
  });
  if (ns.forwarding !== undefined) {
    const id = `${ns.id}/forwarding`;
    out.push(
      `    ${quote(id)} [label=${forwardingTable(topology, ns)}, tooltip="forwarding: ip_forward and the NAT and FORWARD rules"];`,
    );
    if (anchor !== undefined) out.push(`    ${quote(anchor)} -> ${quote(id)} [style=invis];`);
  }
  out.push('  }');
  return out;
}

function linkTable(topology: Topology, link: Link): string {
  const look = lookOf(topology, link.provenance);
  const faded = look.faded ? ` COLOR="${grey}"` : '';
  const rows = [
    `<TR><TD ALIGN="LEFT"><FONT${faded}><B>${html(link.name)}</B></FONT></TD><TD ALIGN="RIGHT">${small(markOf(topology, link.provenance), look.faded)}</TD></TR>`,
    `<TR><TD ALIGN="LEFT" COLSPAN="2"><FONT POINT-SIZE="9"${faded}>${html(kindAndState(link))}</FONT></TD></TR>`,
    ...link.addresses.map((address) => {
      const alook = lookOf(topology, address.provenance);
      return `<TR><TD ALIGN="LEFT" BGCOLOR="${alook.fill}"><FONT${alook.faded ? ` COLOR="${grey}"` : ''}>${html(address.address)}</FONT></TD><TD ALIGN="RIGHT" BGCOLOR="${alook.fill}">${small(markOf(topology, address.provenance), alook.faded)}</TD></TR>`;
    }),
  ];
  const style = look.dashed ? 'rounded,dashed' : 'rounded';
  return `<<TABLE BORDER="${look.bold ? 3 : 1}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" STYLE="${style}" BGCOLOR="${look.fill}" COLOR="${look.stroke}">${rows.join('')}</TABLE>>`;
}

function forwardingTable(topology: Topology, ns: NetNamespace): string {
  const forwarding = ns.forwarding;
  if (forwarding === undefined) return '""';
  const row = (text: string, provenance: Provenance) => {
    const look = lookOf(topology, provenance);
    return `<TR><TD ALIGN="LEFT" BGCOLOR="${look.fill}"><FONT${look.faded ? ` COLOR="${grey}"` : ''}>${html(text)}</FONT></TD><TD ALIGN="RIGHT" BGCOLOR="${look.fill}">${small(markOf(topology, provenance), look.faded)}</TD></TR>`;
  };
  const rows = [
    `<TR><TD ALIGN="LEFT" COLSPAN="2"><B>forwarding</B></TD></TR>`,
    row(`ip_forward ${forwarding.ipForward ?? '(not read)'}`, forwarding.ipForwardProvenance),
    ...forwarding.rules.map((rule) => row(`${rule.table} ${rule.chain} ${rule.text}`, rule.provenance)),
  ];
  return `<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" STYLE="rounded" COLOR="${grey}" BGCOLOR="${white}">${rows.join('')}</TABLE>>`;
}

function legend(topology: Topology): string[] {
  const rows = topology.runs.map((run) => {
    const { fill } = runColours(topology, run.id);
    const highlighted = run.id === topology.highlight ? ' (--run)' : '';
    return `<TR><TD BGCOLOR="${fill}">${html(run.label)}</TD><TD ALIGN="LEFT">${html(`run ${run.id} of ${run.runbook} (${run.status})${highlighted}`)}</TD></TR>`;
  });
  rows.push(
    `<TR><TD COLSPAN="2" ALIGN="LEFT"><FONT POINT-SIZE="9">made rN: made by run rN (filled); found rN: found in place by it (dashed)</FONT></TD></TR>`,
    `<TR><TD COLSPAN="2" ALIGN="LEFT"><FONT POINT-SIZE="9">unknown: no run recorded in this state dir made it or found it</FONT></TD></TR>`,
  );
  for (const why of topology.unreadable)
    rows.push(`<TR><TD COLSPAN="2" ALIGN="LEFT"><FONT POINT-SIZE="9">not drawn: ${html(why)}</FONT></TD></TR>`);
  return [
    `  legend [label=<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">${rows.join('')}</TABLE>>, tooltip="legend"];`,
    '  { rank=sink; legend; }',
  ];
}

function linkId(namespace: string, link: string): string {
  return `${namespace}/link/${link}`;
}

function small(text: string, faded: boolean): string {
  return text === '' ? '' : `<FONT POINT-SIZE="8" COLOR="${faded ? grey : '#555555'}">${html(text)}</FONT>`;
}

/**
 * A DOT string: quoted, with `\` and `"` escaped. Names come from the kernel and may hold
 * anything; control characters are shown escaped first (a newline stays a line break).
 */
function quote(value: string): string {
  const safe = value
    .split('\n')
    .map((line) => escapeControls(line))
    .join('\n');
  return `"${safe.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`;
}

/** Text inside an HTML-like label: markup characters as entities. */
function html(value: string): string {
  return escapeControls(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}
