import { describe, expect, it } from 'vitest';
import { parseRunbook } from '../../src/runbook/load.js';
import { loopValues } from '../../src/runbook/loop-values.js';
import { paramSpecProblems, recordsOf } from '../../src/runbook/param-types.js';
import { resolveParams } from '../../src/runbook/params.js';
import { renderPlan } from '../../src/runbook/render.js';
import type { ParamSpec } from '../../src/runbook/schema.js';
import { nearestSpellings } from '../../src/runbook/spelling.js';
import { hasMalformedPlaceholder, referencesIn, renderTemplate, TemplateError } from '../../src/runbook/template.js';
import { thrown } from '../helpers/thrown.js';

/**
 * Issue 28 in the runbook layer, no kernel: address helpers and arithmetic in placeholders
 * (item 3), lists of records and the loops over them (item 2), `foreach … in:` (item 5), and the
 * spelling suggestions of item 7.
 */

const scope = {
  net: '172.16.0.9/24',
  p31: '10.0.0.0/31',
  p32: '10.0.0.7/32',
  wide: '10.0.0.0/8',
  n: '3',
  ip: '10.0.0.1',
};

describe('address helpers (item 3)', () => {
  it('gives the network, broadcast, netmask and the network with its prefix length', () => {
    expect(renderTemplate('{{net.network}} {{net.broadcast}} {{net.netmask}} {{net.subnet}}', scope)).toBe(
      '172.16.0.0 172.16.0.255 255.255.255.0 172.16.0.0/24',
    );
    expect(renderTemplate('{{wide.broadcast}} {{wide.netmask}}', scope)).toBe('10.255.255.255 255.0.0.0');
    expect(renderTemplate('{{p32.netmask}} {{p32.network}}', scope)).toBe('255.255.255.255 10.0.0.7');
  });

  it('gives the n-th host address, counted from the end when negative, and refuses one outside', () => {
    expect(renderTemplate('{{net.host(1)}} {{net.host(254)}} {{net.host(-1)}} {{net.host(-254)}}', scope)).toBe(
      '172.16.0.1 172.16.0.254 172.16.0.254 172.16.0.1',
    );
    expect(renderTemplate('{{net.host(n)}} {{net.host(n * 2 + 1)}} {{net.host(-n)}}', scope)).toBe(
      '172.16.0.3 172.16.0.7 172.16.0.252',
    );
    // /31 and /32 have no network or broadcast address to skip (RFC 3021).
    expect(renderTemplate('{{p31.host(1)}} {{p31.host(2)}} {{p32.host(1)}}', scope)).toBe('10.0.0.0 10.0.0.1 10.0.0.7');
    for (const text of ['{{net.host(0)}}', '{{net.host(255)}}', '{{net.host(-255)}}', '{{p31.host(3)}}'])
      expect(() => renderTemplate(text, scope), text).toThrow(TemplateError);
    expect(() => renderTemplate('{{net.host(255)}}', scope)).toThrow(
      '{{net.host(255)}}: 172.16.0.0/24 has 254 host addresses, so host(255) is outside it',
    );
  });

  it('gives an octet of an address, with or without a prefix length', () => {
    expect(renderTemplate('{{ip.octet(1)}}.{{net.octet(4)}} {{net.address.octet(3)}}', scope)).toBe('10.9 0');
    expect(() => renderTemplate('{{ip.octet(5)}}', scope)).toThrow('an address has octets 1 to 4, not 5');
  });

  it('refuses a helper on a value that is not an address with a prefix length, naming the value', () => {
    expect(() => renderTemplate('{{ip.network}}', scope)).toThrow(
      '{{ip.network}}: "10.0.0.1" is not an IPv4 address with a prefix length (such as 172.16.0.0/24)',
    );
    expect(() => renderTemplate('{{net.prefix}}', scope)).toThrow(
      'net has no .prefix (the prefix length is .prefixlen, the network with it .subnet)',
    );
  });
});

describe('arithmetic in placeholders (item 3)', () => {
  it('adds, subtracts and multiplies whole numbers, * before + and -', () => {
    expect(renderTemplate('{{n * 4 + 1}} {{1 + n * 4}} {{n - 5}} {{n * n * 2}}', scope)).toBe('13 13 -2 18');
  });

  it('moves addresses on and back, and counts the addresses between two', () => {
    expect(renderTemplate('{{ip + n}} {{ip - 1}} {{net.broadcast - net.network}}', scope)).toBe(
      '10.0.0.4 10.0.0.0 255',
    );
    expect(() => renderTemplate('{{z - 1}}', { z: '0.0.0.0' })).toThrow('goes below 0.0.0.0');
    expect(() => renderTemplate('{{ip * 2}}', scope)).toThrow('only whole numbers can be multiplied');
    expect(() => renderTemplate('{{ip + ip}}', scope)).toThrow('two addresses cannot be added');
  });

  it('leaves a value known only at run time for later, with what is known now filled in', () => {
    expect(renderTemplate('{{mac}} {{x + n}} {{x.address}} {{ip + x}}', scope, true)).toBe(
      '{{mac}} {{x + 3}} {{x.address}} {{10.0.0.1 + x}}',
    );
    expect(renderTemplate('{{10.0.0.1 + x}}', { x: '2' })).toBe('10.0.0.3');
    // A known value that is neither a number nor an address cannot wait in an expression.
    expect(() => renderTemplate('{{net + x}}', scope, true)).toThrow(
      'a value known only at run time cannot be combined',
    );
  });

  it('parses what it documents, and only that', () => {
    for (const text of ['{{a}}', '{{ a.b.c }}', '{{a.host(n + 1)}}', '{{a.host(-1)}}', '{{a - b * 2}}'])
      expect(hasMalformedPlaceholder(text), text).toBe(false);
    for (const text of ['{{a.}}', '{{a.host(}}', '{{a.host()}}', '{{A}}', '{{a..b}}', '{{a + 256.1.1}}', '{{(a)}}'])
      expect(hasMalformedPlaceholder(text), text).toBe(true);
    expect(referencesIn('{{c.address.host(i + n)}}')).toEqual([
      { name: 'c', parts: ['address', 'host()'] },
      { name: 'i', parts: [] },
      { name: 'n', parts: [] },
    ]);
  });
});

const records: ParamSpec = {
  type: 'list',
  of: 'record',
  fields: {
    name: { type: 'name' },
    mac: { type: 'mac' },
    port: { type: 'integer', min: 1, max: 65535, default: 80 },
  },
};

describe('lists of records (item 2)', () => {
  it('reads JSON records, fills field defaults, and keeps the declared field order', () => {
    expect(
      recordsOf(
        records,
        '[{"mac": "02:00:00:00:00:01", "name": "a"}, {"name": "b", "mac": "02:00:00:00:00:02", "port": 8080}]',
      ),
    ).toEqual([
      { name: 'a', mac: '02:00:00:00:00:01', port: '80' },
      { name: 'b', mac: '02:00:00:00:00:02', port: '8080' },
    ]);
    expect(recordsOf(records, '')).toEqual([]);
  });

  it('checks each field like a parameter of its type, and names the item and the field', () => {
    const problem = (text: string) => (recordsOf(records, text) as { problem: string }).problem;
    expect(problem('[{"name": "a", "mac": "02:00:00:00:00:01", "port": 0}]')).toBe(
      'item 1 field port "0": expected at least 1',
    );
    expect(problem('[{"name": "a"}]')).toBe('item 1 has no "mac" (a mac), and it has no default');
    expect(problem('[{"name": "a\\nb", "mac": "02:00:00:00:00:01"}]')).toContain('item 1 field name');
    expect(problem('[1]')).toContain('item 1 is not a record');
    expect(problem('{"name": "a"}')).toContain('expected a JSON list of records');
  });

  it('refuses declarations that cannot work, when the file is read', () => {
    expect(paramSpecProblems({ l: { type: 'list', of: 'record' } })).toEqual([
      'parameters.l.fields: a list of records needs its fields ({ name: { type: name }, … })',
    ]);
    expect(paramSpecProblems({ l: { type: 'list', of: 'name', fields: { a: { type: 'name' } } } })).toEqual([
      'parameters.l.fields: only a list of records (of: record) has fields',
    ]);
    expect(
      paramSpecProblems({
        l: { type: 'list', of: 'record', fields: { e: { type: 'enum' }, p: { type: 'integer', default: 'x' } } },
      }),
    ).toEqual([
      'parameters.l.fields.e.values: an enum needs its values',
      'parameters.l.fields.p.default: "x" is not a valid integer: expected a whole number',
    ]);
  });

  it('as a parameter: a YAML list of maps as default, one text for the same records however written', () => {
    const source = `name: r
description: records
parameters:
  items:
    type: list
    of: record
    fields: { name: { type: name }, port: { type: integer, default: 80 } }
    default: [{ name: a }, { port: 81, name: b }]
steps:
  - foreach: { var: it, in: "{{items}}" }
    steps:
      - { id: "s-{{it.name}}", title: "{{it.name}}:{{it.port}}", why: x, verify: [{ run: ["true"] }] }
`;
    const { spec } = parseRunbook(source, '/srv/r.yaml');
    const fromDefault = resolveParams(spec, {}, '/srv/r.yaml');
    const given = resolveParams(spec, { items: '[{"name":"a","port":"80"},{"name":"b","port":81}]' }, '/srv/r.yaml');
    expect(fromDefault.items).toBe('[{"name":"a","port":"80"},{"name":"b","port":"81"}]');
    expect(given.items).toBe(fromDefault.items);
    expect(renderPlan(spec, fromDefault).steps.map((s) => [s.id, s.title])).toEqual([
      ['s-a', 'a:80'],
      ['s-b', 'b:81'],
    ]);
  });
});

describe('foreach in: (item 5)', () => {
  it('walks a literal list of records, and several lists together as records', () => {
    expect(loopValues({ var: 'r', in: [{ a: '{{n}}', b: 'x' }] }, scope, {}).map((v) => v.record)).toEqual([
      { a: '3', b: 'x' },
    ]);
    const zip = loopValues({ var: 'r', in: { a: ['1', '2'], b: '{{list}}' } }, { ...scope, list: 'x,y' }, {});
    expect(zip.map((v) => [v.record, v.index, v.suffix])).toEqual([
      [{ a: '1', b: 'x' }, 1, '1'],
      [{ a: '2', b: 'y' }, 2, '2'],
    ]);
    expect(thrown(() => loopValues({ var: 'r', in: { a: ['1'], b: ['1', '2'] } }, scope, {})).message).toBe(
      'foreach.in: the lists walked together have different lengths: a has 1, b has 2',
    );
  });

  it('in a constraint, walks a list parameter as in a loop of steps', () => {
    const source = `name: c
description: constraints over a list
parameters:
  net: { type: ipv4-network, default: 10.0.0.0/24 }
  hosts: { type: list, of: integer, min: 1, max: 300, default: [2, 300] }
constraints:
  - foreach: { var: h, in: "{{hosts}}", index: i }
    address: "{{net.network + h}}"
    host_of: "{{net}}"
    what: host {{i}}
steps:
  - { id: a, title: a, why: x, verify: [{ run: ["true"] }] }
`;
    const { spec } = parseRunbook(source, '/srv/c.yaml');
    const error = thrown(() => renderPlan(spec, resolveParams(spec, {}, '/srv/c.yaml')));
    expect(error.message).toContain('host 2 (10.0.1.44) is outside 10.0.0.0/24');
    expect(error.message).not.toContain('host 1');
    // List items are checked against min and max like integers.
    expect(thrown(() => resolveParams(spec, { hosts: '2,301' }, '/srv/c.yaml')).message).toContain(
      'item 2 "301": expected at most 300',
    );
  });
});

describe('scope checks for records and helpers (items 1, 2, 3)', () => {
  const base = (step: string) => `name: s
description: scope
parameters:
  net: { type: ipv4-network, default: 10.0.0.0/24 }
  name: { type: name, default: x }
  items: { type: list, of: record, fields: { id: { type: integer }, addr: { type: ipv4-cidr } }, default: [{ id: 1, addr: 10.0.0.2/24 }] }
steps:
  - foreach: { var: it, in: "{{items}}" }
    steps:
${step}`;
  const problems = (step: string) => thrown(() => parseRunbook(base(step), '/srv/s.yaml')).message;

  it("knows a record's fields and their types", () => {
    expect(() =>
      parseRunbook(
        base(
          '      - { id: a, title: "{{it.id}} {{it.addr.network}} {{it.addr.host(it.id)}}", why: x, verify: [{ run: ["true"] }] }\n',
        ),
        '/srv/s.yaml',
      ),
    ).not.toThrow();
    expect(problems('      - { id: a, title: "{{it.ip}}", why: x, verify: [{ run: ["true"] }] }\n')).toContain(
      '{{it.ip}}: it has no field ip (its fields: id, addr)',
    );
    expect(problems('      - { id: a, title: "{{it.id.network}}", why: x, verify: [{ run: ["true"] }] }\n')).toContain(
      '{{it.id.network}}: it.id is an integer: only an ipv4-cidr or ipv4-network has .network',
    );
    expect(problems('      - { id: a, title: "{{name.host(1)}}", why: x, verify: [{ run: ["true"] }] }\n')).toContain(
      '{{name.host()}}: name is a name: only an ipv4-cidr or ipv4-network has .host()',
    );
    expect(problems('      - { id: a, title: "{{net.hosts(1)}}", why: x, verify: [{ run: ["true"] }] }\n')).toContain(
      'net has no hosts()',
    );
  });

  it("refuses an export or capture named like a parameter, a loop variable or an earlier step's export", () => {
    const text = problems(`      - id: a
        title: a
        why: x
        verify: [{ run: ["true"] }]
        export: { net: [cat, /a], it: [cat, /b], v: [cat, /c] }
      - id: b
        title: b
        why: x
        verify: [{ run: ["true"] }]
        export: { v: [cat, /d] }
`);
    expect(text).toContain('steps[0].steps[0].export.net: already the name of a parameter or loop variable');
    expect(text).toContain('steps[0].steps[0].export.it: already the name of a parameter or loop variable');
    expect(text).toContain('steps[0].steps[1].export.v: already the name of an exported value of an earlier step');
  });
});

describe('did you mean (item 7)', () => {
  it('suggests the nearest spellings, nearest first, and nothing far away', () => {
    expect(nearestSpellings('retry', ['run', 'read', 'timeout', 'stdin', 'expect', 'retries', 'delay'])).toEqual([
      'retries',
    ]);
    expect(nearestSpellings('veriffy', ['verify', 'undo', 'do'])).toEqual(['verify']);
    expect(nearestSpellings('okexit', ['ok_exit', 'if'])).toEqual(['ok_exit']);
    expect(nearestSpellings('zzzz', ['run', 'read'])).toEqual([]);
  });
});
