import { describe, expect, it } from 'vitest';
import { buildTopology } from '../../src/topology/build.js';
import { Ledger, type RecordedRun } from '../../src/topology/provenance.js';
import type { KernelReading } from '../../src/topology/read-kernel.js';
import { renderDot } from '../../src/topology/render-dot.js';
import { renderMermaid } from '../../src/topology/render-mermaid.js';
import { renderText } from '../../src/topology/render-text.js';
import {
  loopback,
  multiContainerReading,
  namespace,
  sandboxHost,
  singleContainerReading,
  singleContainerRun,
  veth,
} from './fixtures.js';

const build = (reading: KernelReading, runs: RecordedRun[] = [], highlight?: string) =>
  buildTopology({ reading, ledger: Ledger.of(runs), host: sandboxHost, highlight });

const run = singleContainerRun();

/** A namespace whose name is made to break out of whatever quotes it: a terminal escape, quotes, markup. */
const hostile = 'evil"\\\u001b[2J<b>#x;';

function hostileReading(): KernelReading {
  const reading = singleContainerReading();
  reading.namespaces.push(
    namespace(hostile, [loopback(), veth(7, 'e<v>"1', { ifindex: 8, nsid: 0 })], [], { 0: undefined }),
  );
  return reading;
}

describe('renderText: a tree for terminals (issue 29)', () => {
  it('draws each namespace with its links, addresses, routes and marks, and a legend', () => {
    const text = renderText(build(singleContainerReading(), [run]));
    const lines = text.split('\n');
    expect(lines[0]).toBe('host');
    expect(text).toMatch(/^├─ veth1 +veth UP, peer ceth1 in container1 +made r1$/m);
    expect(text).toMatch(/^namespace container1 +made r1$/m);
    expect(text).toMatch(/^│ {2}└─ 172\.16\.0\.2\/24 +made r1$/m);
    expect(text).toMatch(/^├─ enp0s8 +veth UP, peer lan0 in lan +unknown$/m);
    expect(text).toMatch(/^ {3}├─ ip_forward 0 +unknown$/m);
    expect(text).toContain(`r1 = run ${run.run.id} of single-container (succeeded)`);
    // The marks stand in one column.
    const columns = new Set(
      lines.filter((l) => /(made r1|unknown)$/.test(l)).map((l) => l.search(/(made r1|unknown)$/)),
    );
    expect(columns.size).toBe(1);
  });

  it('fits 80 columns for multi-container with count=3 and its NAT', () => {
    const text = renderText(build(multiContainerReading(3), [run]));
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(text).toContain('namespace container3');
    expect(text).toContain('nat POSTROUTING -s 172.16.0.0/24 -j MASQUERADE');
  });

  it('stars the objects of the run --run highlights', () => {
    const other = { ...singleContainerRun('20261130T000000.000Z-bbbb') };
    const text = renderText(build(singleContainerReading(), [run], run.run.id));
    expect(text).toMatch(/^namespace container1 +\*made r1$/m);
    expect(text).toMatch(/enp0s8 .* unknown$/m);
    expect(text).toContain(`*: made or found by run ${run.run.id} (--run)`);
    expect(renderText(build(singleContainerReading(), [run], other.run.id))).not.toContain('*made');
  });

  it('shows control characters in names from the kernel escaped, never raw', () => {
    const text = renderText(build(hostileReading()));
    expect(text).not.toContain('\u001b');
    expect(text).toContain('namespace evil"\\\\u001b[2J<b>#x;');
  });
});

describe('renderDot: a graph for Graphviz', () => {
  it('names every piece and says in its tooltip which run made it', () => {
    const dot = renderDot(build(singleContainerReading(), [run]));
    expect(dot).toMatch(/^digraph topology \{/);
    const made = `made by run ${run.run.id} of runbook single-container`;
    expect(dot).toContain(`subgraph "cluster netns:container1"`);
    expect(dot).toContain(`tooltip="namespace container1: ${made}"`);
    expect(dot).toContain(`"netns:container1/link/ceth1" [label=`);
    expect(dot).toContain(`tooltip="ceth1: ${made}"`);
    expect(dot).toContain(`tooltip="veth1: ${made}"`);
    expect(dot).toMatch(/"host\/link\/veth1" -> "netns:container1\/link\/ceth1" \[[^\]]*label="veth\\nmade r1"/);
    expect(dot).toContain(`tooltip="veth pair veth1 – ceth1: ${made}"`);
    expect(dot).toMatch(/>172\.16\.0\.2\/24<\/FONT><\/TD><TD[^>]*><FONT[^>]*>made r1</);
    // The uplink's cable runs up, from lan's end to the host's.
    expect(dot).toContain('"netns:lan/link/lan0" -> "host/link/enp0s8"');
  });

  it('escapes names so that they can never end a string or a label', () => {
    const dot = renderDot(build(hostileReading()));
    expect(dot).not.toContain('\u001b');
    expect(dot).toContain('subgraph "cluster netns:evil\\"\\\\\\\\u001b[2J<b>#x;"');
    expect(dot).toContain('<B>namespace evil&quot;\\\\u001b[2J&lt;b&gt;#x;</B>');
    expect(dot).toContain('<B>e&lt;v&gt;&quot;1</B>');
    // Every quoted string closes: an even number of unescaped quotes on every line.
    for (const line of dot.split('\n'))
      expect(line.replace(/\\\\/g, '').replace(/\\"/g, '').split('"').length % 2).toBe(1);
  });
});

describe('renderMermaid: a flowchart for Markdown', () => {
  it('draws a subgraph per namespace, veth pairs and bridge ports as lines, marks in the labels', () => {
    const mermaid = renderMermaid(build(multiContainerReading(2), [run]));
    const lines = mermaid.split('\n');
    expect(lines[0]).toBe('flowchart LR');
    expect(lines.filter((l) => /^\s*subgraph /.test(l)).length).toBe(lines.filter((l) => /^\s*end$/.test(l)).length);
    expect(mermaid).toMatch(/subgraph n\d+\["namespace container1 · made r1"\]/);
    expect(mermaid).toMatch(/subgraph n\d+\["namespace container2 · unknown"\]/);
    expect(mermaid).toMatch(/n\d+ ===\|"veth · made r1"\| n\d+/);
    expect(mermaid).toMatch(/n\d+ ---\|"port · unknown"\| n\d+/);
    expect(mermaid).toContain('classDef look1 ');
  });

  it('writes characters Mermaid could read as syntax as entities', () => {
    const mermaid = renderMermaid(build(hostileReading()));
    expect(mermaid).not.toContain('\u001b');
    expect(mermaid).toContain('namespace evil#34;#92;#92;u001b#91;2J#60;b#62;#35;x#59;');
    // No label holds a raw quote: each line has 0 or 2 (or 4, for an edge label) quotes.
    for (const line of mermaid.split('\n')) expect([0, 2]).toContain(line.split('"').length - 1);
  });
});
