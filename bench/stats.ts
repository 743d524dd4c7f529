/** Median of a list of numbers (the benchmark reports medians over rounds, never single runs). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function fmt(value: number, digits = 1): string {
  return value.toFixed(digits);
}

/** One row of the final table: what, the measured figure, the goal, whether it is met. */
export interface Row {
  what: string;
  figure: string;
  goal: string;
  met: boolean | undefined;
}

export function printTable(rows: readonly Row[]): void {
  const width = Math.max(...rows.map((r) => r.what.length));
  const figWidth = Math.max(...rows.map((r) => r.figure.length));
  console.log('');
  console.log(`${'measure'.padEnd(width)}  ${'figure'.padEnd(figWidth)}  goal`);
  for (const r of rows) {
    const verdict = r.met === undefined ? '' : r.met ? '  met' : '  NOT met';
    console.log(`${r.what.padEnd(width)}  ${r.figure.padEnd(figWidth)}  ${r.goal}${verdict}`);
  }
}
