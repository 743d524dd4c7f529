import { describe, expect, it } from 'vitest';
import type { CommandRequest, CommandResult, Executor } from '../../src/exec/types.js';
import { readKernel } from '../../src/topology/read-kernel.js';

/** An executor that answers `ip`, `iptables` and the ip_forward read from a table, recording every request. */
function fakeKernel(answers: Record<string, Partial<CommandResult>>): Executor & { requests: CommandRequest[] } {
  const requests: CommandRequest[] = [];
  return {
    requests,
    async run(request) {
      requests.push(request);
      const answer = answers[request.argv.join(' ')] ?? {
        exitCode: 1,
        stderr: `no answer for ${request.argv.join(' ')}`,
      };
      return {
        exitCode: 0,
        signal: undefined,
        stdout: '',
        stderr: '',
        durationMs: 1,
        timedOut: false,
        startError: undefined,
        ...answer,
      };
    },
  };
}

const denied = { exitCode: 1, stderr: 'setting the network namespace "c1" failed: Operation not permitted\n' };

describe('readKernel: the live kernel, read only (issue 29)', () => {
  it('asks only read-only questions: every request is marked read-only, none takes stdin', async () => {
    const executor = fakeKernel({
      'ip -j netns list': { stdout: '[{"name":"c1","id":0}]' },
      'ip -j -d addr show': { stdout: '[{"ifindex":1,"ifname":"lo","flags":["UP"]}]' },
      'ip -j route show': { stdout: '' },
      'ip -n c1 -j -d addr show': { stdout: '[]' },
      'ip -n c1 -j route show': { stdout: '[]' },
      'iptables -w 5 -t nat -S': { stdout: '-P POSTROUTING ACCEPT\n' },
      'iptables -w 5 -t filter -S': { stdout: '-P FORWARD ACCEPT\n' },
      'read /proc/sys/net/ipv4/ip_forward': { stdout: '1\n' },
    });
    const reading = await readKernel(executor);
    expect(executor.requests.every((r) => r.readOnly === true && r.input === undefined)).toBe(true);
    expect(executor.requests.find((r) => r.argv[0] === 'read')?.read).toBe('/proc/sys/net/ipv4/ip_forward');
    expect(reading.namespaces.map((ns) => ns.name)).toEqual([undefined, 'c1']);
    expect(reading.ipForward).toBe('1');
    expect(reading.iptables.filter).toEqual(['-P FORWARD ACCEPT']);
    expect(reading.namespaces.flatMap((ns) => ns.unreadable)).toEqual([]);
  });

  it('keeps why a part could not be read, once per namespace when one reason explains it all', async () => {
    const executor = fakeKernel({
      'ip -j netns list': { stdout: '[{"name":"c1"}]' },
      'ip -j -d addr show': { stdout: 'not json' },
      'ip -j route show': { stdout: '[]' },
      'ip -n c1 -j -d addr show': denied,
      'ip -n c1 -j route show': denied,
      'iptables -w 5 -t nat -S': { exitCode: 4, stderr: 'iptables: Permission denied (you must be root)\n' },
      'iptables -w 5 -t filter -S': {
        exitCode: undefined,
        startError: 'Command failed with ENOENT: iptables\nspawn iptables ENOENT',
      },
      'read /proc/sys/net/ipv4/ip_forward': { exitCode: 1, stderr: 'EACCES' },
    });
    const reading = await readKernel(executor);
    expect(reading.namespaces[0]?.unreadable).toEqual([
      'its links could not be read: its output is not the JSON expected',
    ]);
    expect(reading.namespaces[1]?.unreadable).toEqual([
      'it could not be read: setting the network namespace "c1" failed: Operation not permitted',
    ]);
    expect(reading.iptables.nat).toEqual({ unreadable: 'iptables: Permission denied (you must be root)' });
    expect(reading.iptables.filter).toEqual({ unreadable: 'Command failed with ENOENT: iptables' });
    expect(reading.ipForward).toEqual({ unreadable: 'EACCES' });
  });

  it('asks a namespace for the ids it gives its peers after reading its links (which makes the kernel give them)', async () => {
    const executor = fakeKernel({
      'ip -j netns list': { stdout: '[]' },
      'ip -j -d addr show': { stdout: '[{"ifindex":3,"ifname":"veth1","link_index":2,"link_netnsid":0}]' },
      'ip -j route show': { stdout: '[]' },
      'ip -j netns list-id': { stdout: '[{"nsid":0,"name":"c1"}]' },
      'iptables -w 5 -t nat -S': { stdout: '' },
      'iptables -w 5 -t filter -S': { stdout: '' },
      'read /proc/sys/net/ipv4/ip_forward': { stdout: '0' },
    });
    const reading = await readKernel(executor);
    const calls = executor.requests.map((r) => r.argv.join(' '));
    expect(calls.indexOf('ip -j netns list-id')).toBeGreaterThan(calls.indexOf('ip -j -d addr show'));
    expect(reading.namespaces[0]?.nsids).toEqual(new Map([[0, 'c1']]));
  });
});
