import { createHash } from 'node:crypto';

/**
 * The journal's hash chain, in one place: each line carries `seq` (1, 2, …) and `prev`, the
 * sha256 of the previous line's exact text (all zeros for the first line). Removing, altering
 * or reordering an entry breaks the chain at that point; the run's index records the last
 * hash so that entries cut off the end are noticed too. The writer seals each line with
 * `HashChain.seal`; `verifyChain` checks a journal as read.
 */

export const genesisHash = '0'.repeat(64);

/** sha256 of a line's text, given as a string or as its UTF-8 bytes (the same hash). */
export function hashLine(line: string | Uint8Array): string {
  return createHash('sha256').update(line).digest('hex');
}

/** Where a chain ends: what the next line continues from. */
export interface ChainEnd {
  lastSeq: number;
  lastHash: string;
}

/** The end of the chain formed by these raw lines. */
export function chainEnd(raw: readonly string[]): ChainEnd {
  const last = raw[raw.length - 1];
  return { lastSeq: raw.length, lastHash: last === undefined ? genesisHash : hashLine(last) };
}

/** The chain's state while appending. Pure: it computes lines, the writer writes them. */
export class HashChain {
  lastSeq: number;
  lastHash: string;

  constructor(end: Partial<ChainEnd> = {}) {
    this.lastSeq = end.lastSeq ?? 0;
    this.lastHash = end.lastHash ?? genesisHash;
  }

  /** The envelope fields the next line must carry. */
  next(): { seq: number; prev: string } {
    return { seq: this.lastSeq + 1, prev: this.lastHash };
  }

  /** Moves the chain past a line once it is written (text without its newline). */
  advance(line: string | Uint8Array): void {
    this.lastSeq += 1;
    this.lastHash = hashLine(line);
  }
}

export interface ChainProblem {
  line: number;
  reason: string;
}

/**
 * Checks the chain line by line, then that the index's record of the end (if there is an index)
 * is still in the journal. Returns the first problem found.
 */
export function verifyChain(
  lines: ReadonlyArray<{ seq: number; prev: string }>,
  raw: readonly string[],
  recordedEnd: ChainEnd | undefined,
): ChainProblem | undefined {
  let prev = genesisHash;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as { seq: number; prev: string };
    if (line.seq !== i + 1)
      return {
        line: i + 1,
        reason: `sequence number ${line.seq} where ${i + 1} was expected (entries removed or reordered)`,
      };
    if (line.prev !== prev)
      return {
        line: i + 1,
        reason: 'hash of the previous entry does not match (an entry before it was altered, removed or reordered)',
      };
    prev = hashLine(raw[i] as string);
  }
  if (recordedEnd !== undefined) {
    const count = lines.length;
    if (recordedEnd.lastSeq > count) {
      return {
        line: count + 1,
        reason: `the run's index records ${recordedEnd.lastSeq} entries but the journal has ${count} (entries removed from the end)`,
      };
    }
    const atIndex = raw[recordedEnd.lastSeq - 1];
    if (recordedEnd.lastSeq > 0 && (atIndex === undefined || hashLine(atIndex) !== recordedEnd.lastHash)) {
      return {
        line: recordedEnd.lastSeq,
        reason: "this entry's hash differs from the one recorded in the run's index (it was altered)",
      };
    }
  }
  return undefined;
}
