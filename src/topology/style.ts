import { isHighlighted, type Topology } from './model.js';
import type { Provenance } from './provenance.js';

/**
 * How the pictures (Mermaid, DOT) colour an object by who made it: each run its colour (filled
 * when it made the object, outlined and dashed when it found it in place), grey for unknown.
 * With `--run`, that run's objects keep their colour and a thick outline; the rest turn grey.
 */

export interface Look {
  fill: string;
  stroke: string;
  dashed: boolean;
  /** Thick outline: the run `--run` asks for. */
  bold: boolean;
  /** Greyed out: another run's, while `--run` highlights one. */
  faded: boolean;
}

/** Pastel fills and their darker strokes, one pair per run (r1, r2, …), cycling after six. */
const palette: ReadonlyArray<{ fill: string; stroke: string }> = [
  { fill: '#dff3e3', stroke: '#2e7d32' },
  { fill: '#fff1d6', stroke: '#b26a00' },
  { fill: '#e8e1f7', stroke: '#5e35b1' },
  { fill: '#ddeefa', stroke: '#1565c0' },
  { fill: '#fbe0e0', stroke: '#c62828' },
  { fill: '#dcf2f0', stroke: '#00796b' },
];

export const white = '#ffffff';
export const grey = '#9e9e9e';
export const text = '#222222';

/** The colours of run `label` (r1, r2, …). */
export function runColours(topology: Pick<Topology, 'runs'>, runId: string): { fill: string; stroke: string } {
  const index = topology.runs.findIndex((run) => run.id === runId);
  return palette[(index < 0 ? 0 : index) % palette.length] as { fill: string; stroke: string };
}

export function lookOf(topology: Pick<Topology, 'runs' | 'highlight'>, provenance: Provenance | undefined): Look {
  const faded = topology.highlight !== undefined && !isHighlighted(topology, provenance);
  if (provenance === undefined || provenance.kind === 'unknown' || faded)
    return { fill: white, stroke: grey, dashed: false, bold: false, faded };
  const { fill, stroke } = runColours(topology, provenance.run.id);
  const bold = isHighlighted(topology, provenance);
  return provenance.kind === 'made'
    ? { fill, stroke, dashed: false, bold, faded }
    : { fill: white, stroke, dashed: true, bold, faded };
}
