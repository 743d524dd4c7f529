/** Levenshtein distance: how far two spellings are apart, for "did you mean" (issue 28). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = current;
  }
  return previous[b.length] as number;
}

/** The candidates close enough in spelling to `word` to be what was meant, nearest first. */
export function nearestSpellings(word: string, candidates: readonly string[]): string[] {
  const limit = Math.max(2, Math.floor(word.length / 3));
  return candidates
    .map((candidate) => ({ candidate, distance: editDistance(candidate.toLowerCase(), word.toLowerCase()) }))
    .filter(({ candidate, distance }) => distance <= limit || sharedPrefix(candidate, word) >= Math.min(4, word.length))
    .sort((a, b) => a.distance - b.distance)
    .map(({ candidate }) => candidate);
}

function sharedPrefix(a: string, b: string): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}
