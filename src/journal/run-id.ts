/**
 * A sortable, readable run id: UTC start time to the millisecond plus a random suffix, so that
 * ids sort in start order even for runs started within the same second.
 */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '');
  return `${stamp}-${Math.random().toString(16).slice(2, 6)}`;
}
