/**
 * A sortable, readable run id: UTC start time to the millisecond plus a random suffix, so that
 * ids sort in start order even for runs started within the same second. The CNI plugin gives
 * its own suffix (`tag`, letters and digits), which names the container a run is for
 * (src/cni/attachment.ts).
 */
export function newRunId(now = new Date(), tag?: string): string {
  const stamp = now.toISOString().replace(/[-:]/g, '');
  return `${stamp}-${tag ?? Math.random().toString(16).slice(2, 6)}`;
}
