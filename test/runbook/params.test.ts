import { describe, expect, it } from 'vitest';
import { checkParamValue, parseSetFlags, resolveParams } from '../../src/runbook/params.js';
import type { RunbookSpec } from '../../src/runbook/schema.js';
import { thrown } from '../helpers/thrown.js';
import { hintText } from '../helpers/advice.js';

describe('checkParamValue: name', () => {
  it.each(['container1', 'web-1', 'a.b_c', 'X', '0'])('accepts %j', (value) => {
    expect(checkParamValue('name', value)).toBeUndefined();
  });
  it.each(['', 'a b', 'a/b', 'a:b', 'ä', 'x\n', '{{x}}', 'a;rm'])('rejects %j', (value) => {
    expect(checkParamValue('name', value)).toMatch(/expected a name/);
  });

  // BUG (src/runbook/params.ts, case 'name'): "." and ".." pass the /^[A-Za-z0-9._-]+$/ check, but
  // a name is used as a network namespace name and `ip netns add ..` refuses it ("Invalid netns
  // name"), so `--set container=..` is not caught as invalid input (exit 2, nothing changed) but
  // fails the first step of a run (exit 1, a run recorded). The interface type already rejects them.
  it.each(['.', '..'])('rejects %j, which no network namespace can be named', (value) => {
    expect(checkParamValue('name', value)).toBeDefined();
  });
});

describe('checkParamValue: interface', () => {
  it.each(['veth1', 'ceth1', 'enp0s8', 'br-0', 'a', '123456789012345', 'v.1', 'x_y'])('accepts %j', (value) => {
    expect(checkParamValue('interface', value)).toBeUndefined();
  });
  it('allows 15 characters, not 16 (IFNAMSIZ)', () => {
    expect(checkParamValue('interface', 'a'.repeat(15))).toBeUndefined();
    expect(checkParamValue('interface', 'a'.repeat(16))).toBe('expected an interface name of 1 to 15 characters');
    expect(checkParamValue('interface', 'this-name-is-too-long')).toBe(
      'expected an interface name of 1 to 15 characters',
    );
  });
  it('counts bytes, not characters', () => {
    // 8 two-byte characters: 16 bytes, one too many for the kernel.
    expect(checkParamValue('interface', 'é'.repeat(8))).toBe('expected an interface name of 1 to 15 characters');
  });
  it('rejects the empty name', () => {
    expect(checkParamValue('interface', '')).toBe('expected an interface name of 1 to 15 characters');
  });
  it.each(['.', '..'])('rejects %j', (value) => {
    expect(checkParamValue('interface', value)).toBe('an interface cannot be named "." or ".."');
  });
  it.each(['a/b', 'a:b', 'eth0:1', 'a b', 'a\tb', 'a\nb', ' veth1'])(
    'rejects %j (slash, colon or whitespace)',
    (value) => {
      expect(checkParamValue('interface', value)).toBe('an interface name cannot contain "/", ":" or whitespace');
    },
  );
});

describe('checkParamValue: ipv4', () => {
  it.each(['10.0.0.10', '0.0.0.0', '255.255.255.255', '172.16.0.2'])('accepts %j', (value) => {
    expect(checkParamValue('ipv4', value)).toBeUndefined();
  });
  it.each([
    '10.0.0.300',
    '10.0.0',
    '10.0.0.1.2',
    '',
    'localhost',
    '10.0.0.10/24',
    '::1',
    ' 10.0.0.10',
    '10.0.0.010',
    '1e1.0.0.1',
  ])('rejects %j', (value) => {
    expect(checkParamValue('ipv4', value)).toBe('expected an IPv4 address such as 10.0.0.10');
  });
});

describe('checkParamValue: ipv4-cidr', () => {
  it.each(['172.16.0.2/24', '172.16.0.0/24', '0.0.0.0/0', '10.0.0.1/32', '10.0.0.1/8'])('accepts %j', (value) => {
    expect(checkParamValue('ipv4-cidr', value)).toBeUndefined();
  });
  it.each([
    '172.16.0.2/33',
    '172.16.0.2',
    '172.16.0.2/',
    '/24',
    '172.16.0.300/24',
    '172.16.0.2/24/1',
    '172.16.0.2/-1',
    '172.16.0.2/abc',
    '172.16.0.2/100',
    '172.16.0.2 /24',
  ])('rejects %j', (value) => {
    expect(checkParamValue('ipv4-cidr', value)).toBe(
      'expected an IPv4 address with prefix length, such as 172.16.0.2/24',
    );
  });

  // BUG (src/runbook/params.ts, case 'ipv4-cidr'): the prefix length is matched by /(\d{1,2})/, so
  // "/08" and "/07" pass. `ip addr add 172.16.0.2/08` refuses it ("any valid prefix is expected"),
  // and "/07" is read as octal 7 but then never matches the verify check (the kernel reports
  // prefixlen 7, the check expects "07"). Either way the run changes the host and fails a step
  // instead of exiting 2. Fix: /^([^/]+)\/(0|[1-9]\d?)$/.
  it.each(['172.16.0.2/08', '172.16.0.2/07', '172.16.0.2/024'])(
    'rejects %j (a prefix length with a leading zero)',
    (value) => {
      expect(checkParamValue('ipv4-cidr', value)).toBeDefined();
    },
  );
});

describe('checkParamValue: integer', () => {
  it.each(['0', '42', '-7', '1000000'])('accepts %j', (value) => {
    expect(checkParamValue('integer', value)).toBeUndefined();
  });
  it.each(['', '1.5', '1e3', 'ten', ' 1', '0x10', '+1'])('rejects %j', (value) => {
    expect(checkParamValue('integer', value)).toBe('expected a whole number');
  });
  it('enforces min and max when given', () => {
    expect(checkParamValue('integer', '0', { min: 1, max: 10 })).toBe('expected at least 1');
    expect(checkParamValue('integer', '11', { min: 1, max: 10 })).toBe('expected at most 10');
    expect(checkParamValue('integer', '1', { min: 1, max: 10 })).toBeUndefined();
    expect(checkParamValue('integer', '10', { min: 1, max: 10 })).toBeUndefined();
  });
});

describe('parseSetFlags', () => {
  it('parses key=value pairs; the value may contain "=" and be empty', () => {
    expect(parseSetFlags(['container=web1', 'x=a=b', 'empty='])).toEqual({ container: 'web1', x: 'a=b', empty: '' });
  });
  it('the last of repeated keys wins', () => {
    expect(parseSetFlags(['a=1', 'a=2'])).toEqual({ a: '2' });
  });
  it('no flags, no values', () => {
    expect(parseSetFlags([])).toEqual({});
  });
  it.each(['container', '=web1', '', '='])('rejects %j as malformed, exit 2', (flag) => {
    const error = thrown(() => parseSetFlags(['a=1', flag]));
    expect(error.code).toBe('invalid-input');
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`malformed --set "${flag}": expected key=value`);
    expect(hintText(error)).toMatch(/--set container=web1/);
  });
});

describe('resolveParams', () => {
  const spec: RunbookSpec = {
    name: 'demo',
    description: 'demo',
    parameters: {
      container: { type: 'name', default: 'container1' },
      host_veth: { type: 'interface', default: 'veth1' },
      cidr: { type: 'ipv4-cidr', default: '172.16.0.2/24' },
      count: { type: 'integer', default: 3, min: 1, max: 5 },
    },
    steps: [],
    constraints: [],
  };

  it('uses the defaults, as strings', () => {
    expect(resolveParams(spec, {}, 'demo.yaml')).toEqual({
      container: 'container1',
      host_veth: 'veth1',
      cidr: '172.16.0.2/24',
      count: '3',
    });
  });

  it('applies overrides', () => {
    expect(resolveParams(spec, { container: 'web1', count: '5' }, 'demo.yaml')).toMatchObject({
      container: 'web1',
      count: '5',
      host_veth: 'veth1',
    });
  });

  it('names an unknown parameter and lists the known ones', () => {
    const error = thrown(() => resolveParams(spec, { nope: '1' }, 'demo.yaml'));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('unknown parameter "nope" (runbook demo takes: container, host_veth, cidr, count)');
    expect(hintText(error)).toBe('see the parameters with: runbook show demo');
  });

  it('names the parameter, the value and the type of a bad override', () => {
    const error = thrown(() => resolveParams(spec, { host_veth: 'a/b' }, 'demo.yaml'));
    expect(error.message).toBe(
      '--set host_veth=a/b: "a/b" is not a valid interface: an interface name cannot contain "/", ":" or whitespace',
    );
  });

  it('reports every problem at once', () => {
    const error = thrown(() =>
      resolveParams(spec, { nope: '1', container: '', cidr: '1.2.3.4/40', count: '9' }, 'demo.yaml'),
    );
    const lines = error.message.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^unknown parameter "nope"/);
    expect(error.message).toContain('--set container=: "" is not a valid name');
    expect(error.message).toContain('--set cidr=1.2.3.4/40: "1.2.3.4/40" is not a valid ipv4-cidr');
    expect(error.message).toContain('--set count=9: "9" is out of range for count: expected at most 5');
  });

  it('names the file when a default itself is invalid', () => {
    const bad: RunbookSpec = { ...spec, parameters: { ip: { type: 'ipv4', default: '1.2.3' } } };
    const error = thrown(() => resolveParams(bad, {}, '/x/bad.yaml'));
    expect(error.message).toBe(
      'default of "ip" in /x/bad.yaml: "1.2.3" is not a valid ipv4: expected an IPv4 address such as 10.0.0.10',
    );
  });

  it('requires a value for a parameter with no default', () => {
    const noDefault: RunbookSpec = { ...spec, parameters: { ip: { type: 'ipv4' } } };
    expect(thrown(() => resolveParams(noDefault, {}, 'x.yaml')).message).toBe(
      'parameter "ip" has no default and was not given: use --set ip=…',
    );
    expect(resolveParams(noDefault, { ip: '10.0.0.10' }, 'x.yaml')).toEqual({ ip: '10.0.0.10' });
  });

  it('says "(none)" when a runbook takes no parameters', () => {
    const none: RunbookSpec = { ...spec, parameters: {} };
    expect(thrown(() => resolveParams(none, { a: '1' }, 'x.yaml')).message).toBe(
      'unknown parameter "a" (runbook demo takes: (none))',
    );
  });
});
