import { describe, expect, it } from 'vitest';
import { evaluate, matchesJson } from '../../src/engine/expectations.js';
import type { CommandResult } from '../../src/exec/types.js';

const result = (partial: Partial<CommandResult> = {}): CommandResult => ({
  exitCode: 0,
  signal: undefined,
  stdout: '',
  stderr: '',
  durationMs: 3,
  timedOut: false,
  startError: undefined,
  ...partial,
});

/** Real `ip -j` outputs, trimmed (from the sandbox host after single-container). */
const linkVeth1 = [
  {
    ifindex: 5,
    ifname: 'veth1',
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    mtu: 1500,
    linkinfo: { info_kind: 'veth' },
  },
];
const addrCeth1 = [
  {
    ifname: 'ceth1',
    addr_info: [
      { family: 'inet', local: '172.16.0.2', prefixlen: 24, scope: 'global' },
      { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
    ],
  },
];

describe('matchesJson', () => {
  it('an object pattern matches an object with at least those keys', () => {
    expect(matchesJson({ ifname: 'veth1' }, { ifname: 'veth1', mtu: 1500 })).toBe(true);
    expect(matchesJson({ ifname: 'veth1', mtu: 1500 }, { ifname: 'veth1' })).toBe(false);
    expect(matchesJson({ ifname: 'veth1' }, { ifname: 'veth2' })).toBe(false);
    expect(matchesJson({}, { anything: 1 })).toBe(true);
  });

  it('an object pattern against an array matches when some element matches', () => {
    expect(matchesJson({ name: 'container1' }, [{ name: 'lan' }, { name: 'container1', id: 1 }])).toBe(true);
    expect(matchesJson({ name: 'container1' }, [{ name: 'lan' }])).toBe(false);
    expect(matchesJson({ name: 'container1' }, [])).toBe(false);
  });

  it('an array pattern needs every pattern element to match some element', () => {
    expect(matchesJson(['UP'], ['BROADCAST', 'UP', 'LOWER_UP'])).toBe(true);
    expect(matchesJson(['UP', 'LOWER_UP'], ['LOWER_UP', 'UP'])).toBe(true);
    expect(matchesJson(['UP'], ['BROADCAST', 'MULTICAST'])).toBe(false);
    expect(matchesJson(['UP'], 'UP')).toBe(false);
    expect(matchesJson([], [])).toBe(true);
  });

  it('nests: flags, linkinfo and addr_info of real ip -j output', () => {
    expect(matchesJson({ flags: ['UP'] }, linkVeth1)).toBe(true);
    expect(matchesJson({ ifname: 'veth1', linkinfo: { info_kind: 'veth' } }, linkVeth1)).toBe(true);
    expect(matchesJson({ linkinfo: { info_kind: 'bridge' } }, linkVeth1)).toBe(false);
    expect(matchesJson({ addr_info: [{ family: 'inet', local: '172.16.0.2', prefixlen: '24' }] }, addrCeth1)).toBe(
      true,
    );
    expect(matchesJson({ addr_info: [{ family: 'inet', local: '172.16.0.2', prefixlen: '16' }] }, addrCeth1)).toBe(
      false,
    );
    // The fields must hold for the same address, not spread over two.
    expect(matchesJson({ addr_info: [{ family: 'inet6', local: '172.16.0.2' }] }, addrCeth1)).toBe(false);
  });

  it('scalars compare by string form (parameters are strings, JSON has numbers)', () => {
    expect(matchesJson('24', 24)).toBe(true);
    expect(matchesJson(24, '24')).toBe(true);
    expect(matchesJson('true', true)).toBe(true);
    expect(matchesJson('24', 25)).toBe(false);
    expect(matchesJson('', 0)).toBe(false);
  });

  it('null and objects are not scalars', () => {
    expect(matchesJson(null, null)).toBe(true);
    expect(matchesJson('null', null)).toBe(false);
    expect(matchesJson({ a: 1 }, null)).toBe(false);
    expect(matchesJson('x', { x: 1 })).toBe(false);
    expect(matchesJson({ a: 1 }, 'a')).toBe(false);
  });

  it('a key must be present, even when the pattern value is null', () => {
    expect(matchesJson({ master: null }, {})).toBe(false);
    expect(matchesJson({ master: null }, { master: null })).toBe(true);
  });
});

describe('evaluate', () => {
  it('defaults to exit status 0', () => {
    expect(evaluate({}, result()).ok).toBe(true);
    const verdict = evaluate({}, result({ exitCode: 1, stderr: 'Cannot find device "veth1"\n' }));
    expect(verdict).toEqual({
      ok: false,
      reason: 'expected exit status 0, got 1',
      evidence: 'Cannot find device "veth1"',
    });
  });

  it('exit: a number, "nonzero" or "any"', () => {
    expect(evaluate({ exit: 2 }, result({ exitCode: 2 })).ok).toBe(true);
    expect(evaluate({ exit: 2 }, result({ exitCode: 0 })).reason).toBe('expected exit status 2, got 0');
    expect(evaluate({ exit: 'nonzero' }, result({ exitCode: 1 })).ok).toBe(true);
    expect(evaluate({ exit: 'nonzero' }, result({ exitCode: 0 })).reason).toBe(
      'expected a non-zero exit status, got 0',
    );
    expect(evaluate({ exit: 'any' }, result({ exitCode: 7 })).ok).toBe(true);
  });

  it('a process killed by a signal has no exit status: not "nonzero", not 0', () => {
    const killed = result({ exitCode: undefined, signal: 'SIGKILL' });
    expect(evaluate({}, killed)).toMatchObject({ ok: false, reason: 'expected exit status 0, got signal SIGKILL' });
    expect(evaluate({ exit: 'nonzero' }, killed).ok).toBe(false);
  });

  it('a timeout never holds, whatever the expectation, even exit "any"', () => {
    const timedOut = result({ exitCode: undefined, timedOut: true, durationMs: 5000 });
    expect(evaluate({}, timedOut)).toMatchObject({ ok: false, reason: 'timed out after 5000 ms' });
    expect(evaluate({ exit: 'any' }, timedOut).ok).toBe(false);
    expect(evaluate({ exit: 'nonzero' }, timedOut).ok).toBe(false);
    // …so a probe looking for a failure does not fire on a timeout either.
    expect(evaluate({ not: { exit: 0 } }, timedOut).ok).toBe(false);
  });

  it('a command that could not start never holds', () => {
    const notFound = result({ exitCode: undefined, startError: 'spawn ip ENOENT' });
    expect(evaluate({ exit: 'any' }, notFound)).toMatchObject({
      ok: false,
      reason: 'could not start: spawn ip ENOENT',
    });
  });

  it('output_contains and output_matches search stdout and stderr', () => {
    const r = result({ stdout: '172.16.0.2 dev veth1 src 10.0.0.10 uid 0\n', stderr: 'warning: something\n' });
    expect(evaluate({ output_contains: 'dev veth1' }, r)).toEqual({
      ok: true,
      reason: 'as expected',
      evidence: '172.16.0.2 dev veth1 src 10.0.0.10 uid 0',
    });
    expect(evaluate({ output_contains: 'warning' }, r).ok).toBe(true);
    expect(evaluate({ output_contains: 'dev ceth1' }, r)).toMatchObject({
      ok: false,
      reason: 'output does not contain "dev ceth1"',
    });
    expect(evaluate({ output_matches: '^[1-8]' }, result({ stdout: '0\n' })).reason).toBe(
      'output does not match /^[1-8]/',
    );
    expect(evaluate({ output_matches: '^[1-8]' }, result({ stdout: '2\n' }))).toEqual({
      ok: true,
      reason: 'as expected',
      evidence: '2',
    });
    // Multi-line: ^ matches at any line start.
    expect(evaluate({ output_matches: '^second' }, result({ stdout: 'first\nsecond\n' })).ok).toBe(true);
  });

  it('json: parses stdout and matches partially', () => {
    const r = result({ stdout: JSON.stringify(linkVeth1) });
    expect(evaluate({ json: { flags: ['UP'] } }, r).ok).toBe(true);
    expect(evaluate({ json: { flags: ['NO-CARRIER'] } }, r)).toMatchObject({
      ok: false,
      reason: 'output does not match {"flags":["NO-CARRIER"]}',
    });
    expect(evaluate({ json: { a: 1 } }, result({ stdout: 'not json' }))).toMatchObject({
      ok: false,
      reason: 'output is not JSON',
    });
    // Empty output is JSON null: matches nothing (e.g. `ip -j netns list` with no namespaces).
    expect(evaluate({ json: { name: 'container1' } }, result({ stdout: '' })).ok).toBe(false);
    expect(evaluate({ json: { name: 'container1' } }, result({ stdout: '\n' })).ok).toBe(false);
  });

  it('json with a failed command fails on the exit status first', () => {
    expect(evaluate({ json: { a: 1 } }, result({ exitCode: 1, stdout: '{"a":1}' })).reason).toBe(
      'expected exit status 0, got 1',
    );
  });

  it('not: holds when the inner expectation does not', () => {
    const none = result({ stdout: '[{"name":"lan"}]' });
    expect(evaluate({ not: { json: { name: 'container1' } } }, none).ok).toBe(true);
    const some = result({ stdout: '[{"name":"container1"}]' });
    expect(evaluate({ not: { json: { name: 'container1' } } }, some)).toMatchObject({
      ok: false,
      reason: 'output matches what it must not: {"json":{"name":"container1"}}',
    });
    // The outer expectation has its own default exit 0: `not` alone never holds for a failed
    // command; with exit "any" it does (the inner one, exit 0 by default, does not hold).
    const unreachable = result({ exitCode: 2, stderr: 'RTNETLINK answers: Network is unreachable' });
    expect(evaluate({ not: { output_contains: 'dev veth1' } }, unreachable)).toMatchObject({
      ok: false,
      reason: 'expected exit status 0, got 2',
    });
    expect(evaluate({ exit: 'any', not: { output_contains: 'dev veth1' } }, unreachable).ok).toBe(true);
    // Double negation.
    expect(evaluate({ not: { not: { exit: 0 } } }, result()).ok).toBe(true);
  });

  it('every field must hold (AND)', () => {
    const r = result({ stdout: '[{"ifname":"veth1"}]' });
    expect(evaluate({ exit: 0, output_contains: 'veth1', json: { ifname: 'veth1' } }, r).ok).toBe(true);
    expect(evaluate({ exit: 0, output_contains: 'veth1', json: { ifname: 'veth2' } }, r).ok).toBe(false);
    expect(evaluate({ exit: 0, output_contains: 'ceth1', json: { ifname: 'veth1' } }, r).ok).toBe(false);
  });
});
