import { escapeControls } from '../text/plain-text.js';
import { markOf, titleOf, type Topology, kindAndState } from './model.js';
import type { Provenance } from './provenance.js';
import { lookOf } from './style.js';

/**
 * The topology as a Mermaid flowchart (`--format mermaid`), which GitHub and most Markdown
 * viewers render: a subgraph per namespace, a node per link (its addresses under its name), a
 * node per route, the host's forwarding as one node; veth pairs and bridge ports as lines. Each
 * node is coloured by who made it and names its mark. Node ids are generated (n1, n2, …): names
 * from the kernel appear only inside labels, escaped as Mermaid entities.
 */
export function renderMermaid(topology: Topology): string {
  const out: string[] = ['flowchart LR'];
  const ids = new Map<string, string>();
  const idOf = (key: string) => {
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = `n${ids.size + 1}`));
    return id;
  };
  const styled: Array<{ id: string; provenance: Provenance | undefined }> = [];
  const linkKey = (ns: string, link: string) => JSON.stringify(['link', ns, link]);

  for (const ns of topology.namespaces) {
    const title = titleOf(topology, ns);
    const mark = markOf(topology, ns.provenance);
    const box = idOf(JSON.stringify(['ns', ns.id]));
    out.push(`  subgraph ${box}["${text(mark === '' ? title : `${title} · ${mark}`)}"]`, '    direction TB');
    styled.push({ id: box, provenance: ns.provenance });
    for (const link of ns.links) {
      const id = idOf(linkKey(ns.id, link.name));
      const lines = [
        `<b>${text(link.name)}</b> · ${text(markOf(topology, link.provenance))}`,
        text(kindAndState(link)),
        ...link.addresses.map((a) => text(`${a.address} · ${markOf(topology, a.provenance)}`)),
      ];
      out.push(`    ${id}["${lines.join('<br/>')}"]`);
      styled.push({ id, provenance: link.provenance });
    }
    ns.routes.forEach((route, i) => {
      const id = idOf(JSON.stringify(['route', ns.id, i]));
      out.push(`    ${id}>"${text(`${route.text} · ${markOf(topology, route.provenance)}`)}"]`);
      styled.push({ id, provenance: route.provenance });
      if (route.dev !== undefined && ns.links.some((l) => l.name === route.dev))
        out.push(`    ${id} -.-> ${idOf(linkKey(ns.id, route.dev))}`);
    });
    const forwarding = ns.forwarding;
    if (forwarding !== undefined) {
      const id = idOf(JSON.stringify(['forwarding', ns.id]));
      const lines = [
        '<b>forwarding</b>',
        text(
          `ip_forward ${forwarding.ipForward ?? '(not read)'} · ${markOf(topology, forwarding.ipForwardProvenance)}`,
        ),
        ...forwarding.rules.map((r) => text(`${r.table} ${r.chain} ${r.text} · ${markOf(topology, r.provenance)}`)),
      ];
      out.push(`    ${id}[["${lines.join('<br/>')}"]]`);
    }
    out.push('  end');
  }
  for (const edge of topology.edges) {
    const from = idOf(linkKey(edge.from.namespace, edge.from.link));
    const to = idOf(linkKey(edge.to.namespace, edge.to.link));
    const label = `${edge.kind} · ${markOf(topology, edge.provenance)}`;
    out.push(`  ${from} ${edge.kind === 'veth' ? '===' : '---'}|"${text(label)}"| ${to}`);
  }
  if (topology.runs.length > 0) {
    const id = idOf('legend');
    const lines = topology.runs.map((run) =>
      text(
        `${run.label}: run ${run.id} of ${run.runbook} (${run.status})${run.id === topology.highlight ? ' (--run)' : ''}`,
      ),
    );
    out.push(`  ${id}[/"${[...lines, text('made: made by that run; found: found in place by it')].join('<br/>')}"/]`);
  }
  // One class per look, so that each colour is declared once.
  const classes = new Map<string, string[]>();
  for (const { id, provenance } of styled) {
    const look = lookOf(topology, provenance);
    const style = [
      `fill:${look.fill}`,
      `stroke:${look.stroke}`,
      `stroke-width:${look.bold ? 3 : 1}px`,
      ...(look.dashed ? ['stroke-dasharray:4 3'] : []),
      ...(look.faded ? ['color:#9e9e9e'] : []),
    ].join(',');
    classes.set(style, [...(classes.get(style) ?? []), id]);
  }
  [...classes].forEach(([style, members], i) => {
    out.push(`  classDef look${i + 1} ${style}`, `  class ${members.join(',')} look${i + 1}`);
  });
  return `${out.join('\n')}\n`;
}

/**
 * Text inside a Mermaid label: every character that Mermaid or HTML could read as syntax is
 * written as an entity (`#quot;`, `#60;`), so a name from the kernel can never end the label.
 */
function text(value: string): string {
  return escapeControls(value).replace(/[^\p{L}\p{N} .,:/@()+=_·-]/gu, (c) => `#${c.codePointAt(0)};`);
}
