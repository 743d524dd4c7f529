import { isAlias, isCollection, isPair, type Document, type Node } from 'yaml';

/**
 * How many values a YAML document holds once its aliases are expanded, counted on the parsed
 * document before any of it is converted (issue 22): a file whose aliases multiply one probe
 * list into millions of probes is refused in milliseconds instead of being expanded for
 * minutes. One walk in document order: an anchor's size is known by the time an alias names it
 * (an alias refers to the latest anchor of that name before it), and is reused for each alias,
 * so the count costs time in proportion to the file, whatever it expands to.
 *
 * Returns the count, or `limit + 1` as soon as it passes `limit` (the exact figure of a bomb
 * does not matter, and would not fit in a number anyway).
 */
export function expandedYamlSize(doc: Document, limit: number): number {
  const tooMany = limit + 1;
  /** The node each anchor name means at this point of the walk. */
  const anchors = new Map<string, unknown>();
  const sizes = new Map<unknown, number>();

  const sizeOf = (node: unknown): number => {
    if (node === null || node === undefined) return 1;
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === undefined) return 1; // an unknown anchor: the conversion reports it
      // An alias inside its own anchor would expand without end: too many.
      return sizes.get(target) ?? tooMany;
    }
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor !== undefined) anchors.set(anchor, node);
    let size = 1;
    if (isPair(node)) size = sizeOf(node.key) + sizeOf(node.value);
    else if (isCollection(node)) {
      for (const item of node.items as unknown[]) {
        size += sizeOf(item);
        if (size > limit) break;
      }
    }
    size = Math.min(size, tooMany);
    sizes.set(node, size);
    return size;
  };

  return sizeOf(doc.contents as Node | null);
}
