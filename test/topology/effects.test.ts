import { describe, expect, it } from 'vitest';
import { canonicalRule, effectsOf } from '../../src/topology/effects.js';

describe('effectsOf: what a do command makes, read from its argv (issue 29)', () => {
  it("reads every do command of single-container as the tutorial's objects", () => {
    expect(effectsOf(['ip', 'netns', 'add', 'container1'])).toEqual([{ kind: 'netns-add', name: 'container1' }]);
    expect(effectsOf(['ip', 'link', 'add', 'name', 'veth1', 'type', 'veth', 'peer', 'name', 'ceth1'])).toEqual([
      { kind: 'link-add', ns: '', name: 'veth1' },
      { kind: 'link-add', ns: '', name: 'ceth1' },
    ]);
    expect(effectsOf(['ip', 'link', 'set', 'dev', 'ceth1', 'netns', 'container1'])).toEqual([
      { kind: 'link-move', ns: '', name: 'ceth1', toNs: 'container1', toName: 'ceth1' },
    ]);
    expect(effectsOf(['ip', '-n', 'container1', 'addr', 'add', '172.16.0.2/24', 'dev', 'ceth1'])).toEqual([
      { kind: 'addr-add', ns: 'container1', dev: 'ceth1', address: '172.16.0.2/24' },
    ]);
    expect(effectsOf(['ip', 'route', 'add', '172.16.0.0/24', 'dev', 'veth1'])).toEqual([
      { kind: 'route-add', ns: '', dst: '172.16.0.0/24', dev: 'veth1' },
    ]);
    expect(
      effectsOf(['ip', '-n', 'container1', 'route', 'add', 'default', 'via', '172.16.0.2', 'dev', 'ceth1']),
    ).toEqual([{ kind: 'route-add', ns: 'container1', dst: 'default', dev: 'ceth1' }]);
  });

  it('reads the bridge, its ports, NAT and forwarding of parts 2 and 3', () => {
    expect(effectsOf(['ip', 'link', 'add', 'name', 'br0', 'type', 'bridge'])).toEqual([
      { kind: 'link-add', ns: '', name: 'br0' },
    ]);
    expect(effectsOf(['ip', 'link', 'set', 'dev', 'veth2', 'master', 'br0'])).toEqual([
      { kind: 'link-master', ns: '', name: 'veth2', master: 'br0' },
    ]);
    expect(effectsOf(['ip', 'link', 'set', 'dev', 'veth2', 'nomaster'])).toEqual([
      { kind: 'link-master', ns: '', name: 'veth2', master: undefined },
    ]);
    expect(
      effectsOf(['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', '172.16.0.0/24', '-j', 'MASQUERADE']),
    ).toEqual([
      { kind: 'rule-add', ns: '', table: 'nat', chain: 'POSTROUTING', spec: '-s 172.16.0.0/24 -j MASQUERADE' },
    ]);
    expect(effectsOf(['iptables', '-w', '5', '-I', 'FORWARD', '1', '-j', 'runbook-fwd'])).toEqual([
      { kind: 'rule-add', ns: '', table: 'filter', chain: 'FORWARD', spec: '-j runbook-fwd' },
    ]);
    expect(effectsOf(['sysctl', '-w', 'net.ipv4.ip_forward=1'])).toEqual([
      { kind: 'sysctl', ns: '', key: 'net.ipv4.ip_forward', value: '1' },
    ]);
  });

  it("understands ip's abbreviations the way ip does (a is address, r route, l link)", () => {
    expect(effectsOf(['ip', 'a', 'a', '10.1.0.1/24', 'dev', 'x0'])).toEqual([
      { kind: 'addr-add', ns: '', dev: 'x0', address: '10.1.0.1/24' },
    ]);
    expect(effectsOf(['ip', 'r', 'a', '10.2.0.0/16', 'via', '10.1.0.2'])).toEqual([
      { kind: 'route-add', ns: '', dst: '10.2.0.0/16', dev: undefined },
    ]);
    expect(effectsOf(['ip', 'l', 'del', 'x0'])).toEqual([{ kind: 'link-del', ns: '', name: 'x0' }]);
    // `ip n` is neighbour, not netns: ip matches "neighbor" first.
    expect(effectsOf(['ip', 'n', 'add', '10.1.0.9', 'lladdr', '02:00:00:00:00:01', 'dev', 'x0'])).toEqual([]);
  });

  it('follows a command into the namespace it runs in (ip -n, ip netns exec)', () => {
    expect(effectsOf(['ip', 'netns', 'exec', 'c1', 'ip', 'addr', 'add', 'dev', 'eth0', '10.9.0.2/24'])).toEqual([
      { kind: 'addr-add', ns: 'c1', dev: 'eth0', address: '10.9.0.2/24' },
    ]);
    expect(effectsOf(['ip', 'netns', 'exec', 'c1', 'sysctl', '-w', 'net.ipv4.ip_forward=1'])).toEqual([
      { kind: 'sysctl', ns: 'c1', key: 'net.ipv4.ip_forward', value: '1' },
    ]);
    expect(effectsOf(['ip', '-netns', 'c1', '-j', 'link', 'add', 'br9', 'type', 'bridge'])).toEqual([
      { kind: 'link-add', ns: 'c1', name: 'br9' },
    ]);
  });

  it('sees a veth end created directly in another namespace, and a rename', () => {
    expect(effectsOf(['ip', 'link', 'add', 'veth1', 'type', 'veth', 'peer', 'name', 'ceth1', 'netns', 'c1'])).toEqual([
      { kind: 'link-add', ns: '', name: 'veth1' },
      { kind: 'link-add', ns: '', name: 'ceth1' },
      { kind: 'link-move', ns: '', name: 'ceth1', toNs: 'c1', toName: 'ceth1' },
    ]);
    expect(effectsOf(['ip', '-n', 'c1', 'link', 'set', 'dev', 'ceth1', 'name', 'eth0'])).toEqual([
      { kind: 'link-move', ns: 'c1', name: 'ceth1', toNs: 'c1', toName: 'eth0' },
    ]);
  });

  it('gives a bare address its prefix length, as the kernel shows it', () => {
    expect(effectsOf(['ip', 'addr', 'add', '10.1.0.1', 'dev', 'x0'])).toEqual([
      { kind: 'addr-add', ns: '', dev: 'x0', address: '10.1.0.1/32' },
    ]);
    expect(effectsOf(['ip', 'route', 'add', '0.0.0.0/0', 'dev', 'x0'])[0]).toMatchObject({ dst: 'default' });
  });

  it('finds nothing made by commands that make nothing it draws', () => {
    for (const argv of [
      ['ping', '-c1', '172.16.0.2'],
      ['ip', 'link', 'set', 'dev', 'veth1', 'up'],
      ['ip', '-j', 'route', 'show'],
      ['sysctl', 'net.ipv4.ip_forward'],
      ['iptables', '-t', 'nat', '-C', 'POSTROUTING', '-j', 'MASQUERADE'],
      ['tee', '/etc/hosts'],
      [],
    ])
      expect(effectsOf(argv), argv.join(' ')).toEqual([]);
  });
});

describe('canonicalRule: a rule in the words iptables -S prints', () => {
  it('shortens long options and gives addresses their prefix length', () => {
    expect(canonicalRule(['--source', '10.0.0.1', '--jump', 'ACCEPT'])).toBe('-s 10.0.0.1/32 -j ACCEPT');
    expect(canonicalRule(['-s', '172.16.0.0/24', '-j', 'MASQUERADE'])).toBe('-s 172.16.0.0/24 -j MASQUERADE');
  });
});
