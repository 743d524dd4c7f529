import { describe, expect, it } from 'vitest';
import { undoFailure } from '../../src/engine/already-gone.js';
import type { CommandResult } from '../../src/exec/types.js';

const failed = (
  stderr: string,
  exitCode: number | undefined = 2,
  extra: Partial<CommandResult> = {},
): CommandResult => ({
  exitCode,
  signal: undefined,
  stdout: '',
  stderr,
  durationMs: 3,
  timedOut: false,
  startError: undefined,
  ...extra,
});

describe('undoFailure: "already gone" is done, anything else is a failed undo (issue 11)', () => {
  // What iproute2 6.1 and iptables print when the thing an undo removes is not there (seen in a sandbox).
  it.each([
    'Cannot find device "veth1"',
    'Cannot remove namespace file "/run/netns/container1": No such file or directory',
    'Cannot open network namespace "container1": No such file or directory',
    'Error: ipv4: Address not found.',
    'RTNETLINK answers: Cannot assign requested address',
    'Error: FIB table does not exist.',
    'RTNETLINK answers: No such process',
    'iptables: Bad rule (does a matching rule exist in that chain?).',
  ])('%s: already gone', (stderr) => {
    expect(undoFailure(['ip', 'x'], failed(stderr))).toBeUndefined();
  });

  it('a failure for any other reason names the command and what it said', () => {
    expect(
      undoFailure(['ip', 'link', 'del', 'dev', 'veth1'], failed('RTNETLINK answers: Operation not permitted')),
    ).toBe('its undo `ip link del dev veth1` failed (exit 2: RTNETLINK answers: Operation not permitted)');
  });

  it('a timeout or a start error is never "already gone"', () => {
    expect(undoFailure(['ip'], failed('Cannot find device', undefined, { timedOut: true }))).toContain('timed out');
    expect(undoFailure(['ip'], failed('', undefined, { startError: 'spawn ip ENOENT' }))).toContain('spawn ip ENOENT');
  });
});
