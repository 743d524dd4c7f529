import { escapeControls } from '../text/plain-text.js';
import { isHighlighted, markOf, titleOf, type Link, type NetNamespace, type Topology, kindAndState } from './model.js';
import type { Provenance } from './provenance.js';

/**
 * The topology as a tree for a terminal (the default format): a namespace per paragraph, its
 * links with their addresses, its routes, and on the host its forwarding; each line ends with
 * its mark (made r1, found r1, unknown), aligned in a column, and a legend says which run r1 is.
 * Names come from the kernel and may hold anything: control characters are shown escaped.
 */

/** The widest a line may be: a terminal's 80 columns. */
const width = 80;

interface Line {
  text: string;
  mark: string;
}

export function renderText(topology: Topology): string {
  const mark = (p: Provenance | undefined) => `${isHighlighted(topology, p) ? '*' : ''}${markOf(topology, p)}`;
  const paragraphs = topology.namespaces.map((ns) => namespaceLines(topology, ns, mark));
  const lines = paragraphs.flatMap((p, i) => (i === 0 ? p : [{ text: '', mark: '' }, ...p]));
  const longestMark = Math.max(0, ...lines.map((l) => l.mark.length));
  const fitting = lines.filter((l) => l.text.length + 2 + longestMark <= width);
  const column = Math.max(0, ...fitting.map((l) => l.text.length)) + 2;
  const out = lines.map(({ text, mark: m }) =>
    m === '' ? text : text.length + 2 > column ? `${text}  ${m}` : `${text.padEnd(column)}${m}`,
  );
  out.push('', ...legend(topology));
  return `${out.join('\n')}\n`;
}

function namespaceLines(topology: Topology, ns: NetNamespace, mark: (p: Provenance | undefined) => string): Line[] {
  const title = escapeControls(titleOf(topology, ns));
  const children: Array<{ line: Line; children: Line[] }> = ns.links.map((link) => ({
    line: { text: linkText(topology, link), mark: mark(link.provenance) },
    children: [
      ...link.addresses.map((a) => ({ text: a.address, mark: mark(a.provenance) })),
      ...(link.master === undefined
        ? []
        : [{ text: `port of ${escapeControls(link.master)}`, mark: mark(portProvenance(topology, ns, link)) }]),
    ],
  }));
  if (ns.name !== undefined || ns.id === 'host')
    children.push({
      line: { text: ns.routes.length === 0 ? 'routes: none' : 'routes', mark: '' },
      children: ns.routes.map((r) => ({ text: escapeControls(r.text), mark: mark(r.provenance) })),
    });
  const forwarding = ns.forwarding;
  if (forwarding !== undefined)
    children.push({
      line: { text: 'forwarding', mark: '' },
      children: [
        { text: `ip_forward ${forwarding.ipForward ?? '(not read)'}`, mark: mark(forwarding.ipForwardProvenance) },
        ...forwarding.rules.map((r) => ({
          text: `${r.table} ${escapeControls(r.chain)} ${escapeControls(r.text)}`,
          mark: mark(r.provenance),
        })),
      ],
    });
  const lines: Line[] = [{ text: title, mark: mark(ns.provenance) }];
  children.forEach((child, i) => {
    const last = i === children.length - 1;
    lines.push({ text: `${last ? '└─ ' : '├─ '}${child.line.text}`, mark: child.line.mark });
    child.children.forEach((grandchild, j) => {
      const branch = j === child.children.length - 1 ? '└─ ' : '├─ ';
      lines.push({ text: `${last ? '   ' : '│  '}${branch}${grandchild.text}`, mark: grandchild.mark });
    });
  });
  return lines;
}

function linkText(topology: Topology, link: Link): string {
  const facts = [kindAndState(link)];
  if (link.peer !== undefined) {
    const peerNs = topology.namespaces.find((n) => n.id === link.peer?.namespace);
    const here = topology.namespaces.find((n) => n.links.includes(link));
    const where = peerNs === here ? '' : ` in ${escapeControls(peerNs?.label ?? '?')}`;
    facts.push(`peer ${escapeControls(link.peer.link)}${where}`);
  }
  return `${escapeControls(link.name).padEnd(8)} ${facts.join(', ')}`;
}

function portProvenance(topology: Topology, ns: NetNamespace, link: Link): Provenance | undefined {
  return topology.edges.find(
    (e) => e.kind === 'port' && e.from.namespace === ns.id && e.from.link === link.name && e.to.link === link.master,
  )?.provenance;
}

function legend(topology: Topology): string[] {
  const lines = topology.runs.map(
    (run) => `${run.label} = run ${run.id} of ${escapeControls(run.runbook)} (${run.status})`,
  );
  if (lines.length === 0) lines.push('no run recorded in this state dir made or found anything drawn here');
  lines.push('made rN: made by run rN; found rN: found in place by run rN');
  lines.push('unknown: no run recorded in this state dir made it or found it');
  if (topology.highlight !== undefined) lines.push(`*: made or found by run ${topology.highlight} (--run)`);
  for (const why of topology.unreadable) lines.push(`not drawn: ${escapeControls(why)}`);
  return lines;
}
