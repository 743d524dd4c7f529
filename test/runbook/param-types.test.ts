import { describe, expect, it } from 'vitest';
import { parseRunbook } from '../../src/runbook/load.js';
import { checkParamValue, resolveParams } from '../../src/runbook/params.js';
import type { ParamSpec } from '../../src/runbook/schema.js';
import { thrown } from '../helpers/thrown.js';

/** Issue 12: string, path, enum, mac and list parameters, checked like the network types. */

const file = '/srv/runbooks/demo.yaml';
const check = (spec: Partial<ParamSpec> & Pick<ParamSpec, 'type'>, value: string) =>
  checkParamValue(spec.type, value, spec as ParamSpec);

function runbookWith(parameters: string): string {
  return `name: demo
description: parameter types
parameters:
${parameters}
steps:
  - { id: x, title: x, why: x, verify: [{ run: ["true"] }] }
`;
}

describe('string', () => {
  const chain = { type: 'string', pattern: '[A-Z][A-Z0-9_-]*', max_length: 28 } as const;

  it('accepts text matching the whole pattern, within the lengths', () => {
    expect(check(chain, 'RUNBOOK-FWD')).toBeUndefined();
    expect(check({ type: 'string' }, 'any text, with spaces: and / slashes')).toBeUndefined();
  });

  it('anchors the pattern: a match inside the value is not enough', () => {
    expect(check(chain, 'x RUNBOOK')).toBe('expected text matching the whole of /[A-Z][A-Z0-9_-]*/');
    expect(check({ type: 'string', pattern: 'a|b' }, 'ab')).toContain('whole of /a|b/');
  });

  it('counts characters against min_length and max_length (an iptables chain is at most 28)', () => {
    expect(check(chain, 'A'.repeat(28))).toBeUndefined();
    expect(check(chain, 'A'.repeat(29))).toBe('expected at most 28 characters, got 29');
    expect(check({ type: 'string', min_length: 2 }, 'é')).toBe('expected at least 2 characters, got 1');
  });

  it('refuses control characters and placeholder braces, whatever the pattern', () => {
    expect(check({ type: 'string' }, 'a\nb')).toContain('control or invisible character (U+000A ');
    expect(check({ type: 'string' }, 'a\u0000')).toContain('control or invisible character (U+0000 ');
    expect(check({ type: 'string' }, 'tab\there')).toContain('U+0009');
    expect(check({ type: 'string' }, 'del\u007f')).toContain('U+007F');
    expect(check({ type: 'string', pattern: '.*' }, '{{previous}}')).toBe('a value cannot contain "{{" or "}}"');
  });
});

describe('path', () => {
  it('accepts absolute, normalised paths', () => {
    for (const p of ['/', '/etc/hosts', '/tmp/runbook test/file.conf'])
      expect(check({ type: 'path' }, p)).toBeUndefined();
  });

  it('refuses relative, unnormalised, and NUL or newline paths, saying what the normal form is', () => {
    expect(check({ type: 'path' }, 'etc/hosts')).toBe('expected an absolute path (starting with "/")');
    expect(check({ type: 'path' }, '/etc//hosts')).toContain('"/etc/hosts"');
    expect(check({ type: 'path' }, '/etc/./hosts')).toContain('"/etc/hosts"');
    expect(check({ type: 'path' }, '/etc/../hosts')).toContain('"/hosts"');
    expect(check({ type: 'path' }, '/etc/')).toContain('"/etc"');
    expect(check({ type: 'path' }, '/etc/ho\nsts')).toContain('control or invisible character (U+000A ');
    expect(check({ type: 'path' }, '/etc/ho\u0000sts')).toContain('control or invisible character (U+0000 ');
  });
});

describe('enum and mac', () => {
  it('an enum takes only its values, exactly', () => {
    const policy = { type: 'enum' as const, values: ['DROP', 'ACCEPT'] };
    expect(check(policy, 'DROP')).toBeUndefined();
    expect(check(policy, 'drop')).toBe('expected one of: DROP, ACCEPT');
  });

  it('a mac is six lower-case hex pairs, as ip -j prints them', () => {
    expect(check({ type: 'mac' }, '02:42:ac:11:00:02')).toBeUndefined();
    for (const bad of ['02:42:AC:11:00:02', '02-42-ac-11-00-02', '02:42:ac:11:00', '02:42:ac:11:00:02:03'])
      expect(check({ type: 'mac' }, bad), bad).toContain('expected a MAC address in lower case');
  });
});

describe('list', () => {
  it('checks every item against the item type, with the spec’s limits, and names the bad item', () => {
    const nets = { type: 'list', of: 'ipv4-network' } as const;
    expect(check(nets, '192.0.2.0/24,198.18.0.0/15')).toBeUndefined();
    expect(check(nets, '')).toBeUndefined(); // the empty list
    expect(check(nets, '192.0.2.0/24,198.18.0.9/15')).toContain('item 2 "198.18.0.9/15": expected a network address');
    expect(check(nets, '192.0.2.0/24,')).toBe('item 2 is empty');
    expect(check({ type: 'list', of: 'string', max_length: 3 }, 'abc,abcd')).toBe(
      'item 2 "abcd": expected at most 3 characters, got 4',
    );
    expect(check({ type: 'list', of: 'mac' }, '02:42:ac:11:00:02\n')).toContain('control or invisible character');
  });

  it('--set names=a,b,c and a YAML list default give the same value', () => {
    const spec = parseRunbook(runbookWith('  names: { type: list, of: name, default: [web1, web2] }'), file).spec;
    expect(resolveParams(spec, {}, file).names).toBe('web1,web2');
    expect(resolveParams(spec, { names: 'a,b,c' }, file).names).toBe('a,b,c');
    expect(thrown(() => resolveParams(spec, { names: 'a,b/c' }, file)).message).toContain(
      '--set names=a,b/c: "a,b/c" is not a valid list: item 2 "b/c": expected a name',
    );
  });
});

describe('control characters', () => {
  it('are refused by every type, the network types included (with their own message when they have one)', () => {
    for (const type of ['string', 'path', 'mac', 'interface'] as const)
      expect(check({ type }, 'veth\u00011'), type).toContain('control or invisible character (U+0001 ');
    expect(check({ type: 'interface' }, 'eth\u007f')).toContain('control or invisible character (U+007F ');
    for (const type of ['name', 'ipv4', 'ipv4-cidr', 'ipv4-network', 'integer'] as const)
      expect(check({ type }, '1\u0001'), type).toBeDefined();
  });

  it('invisible characters are refused too: a name that looks like veth1 is veth1 (issue 11)', () => {
    // A zero-width space, a right-to-left override, a line separator, a soft hyphen.
    for (const [value, code] of [
      ['veth\u200b1', 'U+200B'],
      ['veth\u202e1', 'U+202E'],
      ['veth\u20281', 'U+2028'],
      ['veth\u00ad1', 'U+00AD'],
    ] as const) {
      expect(check({ type: 'string' }, value), code).toContain(`control or invisible character (${code} `);
      // An interface name refuses whitespace first (U+2028 is a line separator).
      expect(check({ type: 'interface' }, value), code).toBeDefined();
    }
    // Letters of other scripts are text, not hidden: kept.
    expect(check({ type: 'interface' }, 'vé€')).toBeUndefined();
  });

  it('an interface name with "%" is refused: the kernel would pick the name (v%d makes v0)', () => {
    expect(check({ type: 'interface' }, 'v%d')).toContain('cannot contain "%"');
    expect(check({ type: 'interface' }, 'br%')).toContain('cannot contain "%"');
  });
});

describe('declarations and defaults, checked when the file is read', () => {
  it('a bad default is reported even when --set would override it', () => {
    const message = thrown(() =>
      parseRunbook(
        runbookWith(`  chain: { type: string, max_length: 28, default: A-CHAIN-NAME-FAR-LONGER-THAN-IPTABLES-ALLOWS }
  file: { type: path, default: tmp/notes }
  names: { type: list, of: name, default: [a, "b,c"] }`),
        file,
      ),
    ).message;
    expect(message).toContain(
      'parameters.chain.default: "A-CHAIN-NAME-FAR-LONGER-THAN-IPTABLES-ALLOWS" is not a valid string: expected at most 28 characters, got 44',
    );
    expect(message).toContain('parameters.file.default: "tmp/notes" is not a valid path: expected an absolute path');
    expect(message).toContain('parameters.names.default: "a,b,c" is not a valid list: list item "b,c" contains ","');
  });

  it('declarations that cannot work are refused: an enum without values, a list without item type, limits on the wrong type, a broken pattern', () => {
    const message = thrown(() =>
      parseRunbook(
        runbookWith(`  a: { type: enum, default: x }
  b: { type: list }
  c: { type: name, max_length: 3 }
  d: { type: string, pattern: "(" }
  e: { type: string, values: [x] }`),
        file,
      ),
    ).message;
    expect(message).toContain('parameters.a.values: an enum needs its values');
    expect(message).toContain('parameters.b.of: a list needs the type of its items');
    expect(message).toContain('parameters.c.max_length: only a string has max_length');
    expect(message).toContain('parameters.d.pattern: not a valid regular expression');
    expect(message).toContain('parameters.e.values: only an enum has values');
  });

  it('a list of lists is not a type', () => {
    expect(thrown(() => parseRunbook(runbookWith('  a: { type: list, of: list }'), file)).message).toContain(
      'parameters.a.of',
    );
  });
});
