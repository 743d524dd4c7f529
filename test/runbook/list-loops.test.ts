import { describe, expect, it } from 'vitest';
import { planFromYaml } from '../helpers/runbooks.js';
import { parseRunbook } from '../../src/runbook/load.js';
import type { Plan } from '../../src/plan/plan.js';
import { thrown } from '../helpers/thrown.js';

/** Issue 12: loops over a literal list or a list parameter, with an index, nested, with stable ids. */

const file = '/srv/runbooks/demo.yaml';

const plan = (source: string, set: Record<string, string> = {}) => planFromYaml(source, set, { file });
const ids = (p: Plan) => p.steps.map((s) => s.id);
const argvs = (p: Plan) => p.steps.map((s) => s.do[0]?.argv.join(' '));

const routes = `name: demo
description: list loops
parameters:
  nets: { type: list, of: ipv4-network, default: [192.0.2.0/24, 198.51.100.0/24] }
  gateway: { type: ipv4, default: 10.0.0.1 }
steps:
  - foreach: { var: net, in: "{{nets}}", index: i }
    steps:
      - id: route
        title: route {{i}} to {{net}}
        why: x
        do: [[ip, route, add, "{{net}}", via, "{{gateway}}", metric, "{{i}}"]]
        verify: [{ run: [ip, -j, route, show, "{{net}}"], expect: { json: { dst: "{{net}}" } } }]
        undo: [[ip, route, del, "{{net}}"]]
`;

describe('loops over lists', () => {
  it('a list parameter: one step per item, the item and its index in every field, ids <id>-<index>', () => {
    const p = plan(routes);
    expect(ids(p)).toEqual(['route-1', 'route-2']);
    expect(argvs(p)).toEqual([
      'ip route add 192.0.2.0/24 via 10.0.0.1 metric 1',
      'ip route add 198.51.100.0/24 via 10.0.0.1 metric 2',
    ]);
    expect(p.steps[1]?.title).toBe('route 2 to 198.51.100.0/24');
    expect(p.steps[1]?.verify[0]?.expect).toEqual({ json: { dst: '198.51.100.0/24' } });
  });

  it('--set gives the list; an empty list gives no steps', () => {
    expect(ids(plan(routes, { nets: '203.0.113.0/24' }))).toEqual(['route-1']);
    expect(() => plan(routes, { nets: '' })).not.toThrow();
    expect(
      ids(plan(`${routes}  - { id: after, title: x, why: x, verify: [{ run: ["true"] }] }\n`, { nets: '' })),
    ).toEqual(['after']);
  });

  it('a literal list, whose items may hold placeholders', () => {
    const source = routes.replace('in: "{{nets}}"', 'in: [10.1.0.0/16, "{{gateway}}/32"]');
    expect(argvs(plan(source))).toEqual([
      'ip route add 10.1.0.0/16 via 10.0.0.1 metric 1',
      'ip route add 10.0.0.1/32 via 10.0.0.1 metric 2',
    ]);
  });

  it('an id may name the item: rendered as written, and it must still be a step id', () => {
    const named = `name: demo
description: x
parameters:
  names: { type: list, of: name, default: [web, db] }
steps:
  - foreach: { var: name, in: "{{names}}" }
    steps:
      - { id: "ns-{{name}}", title: x, why: x, do: [[ip, netns, add, "{{name}}"]], verify: [{ run: ["true"] }], undo: [[ip, netns, del, "{{name}}"]] }
`;
    expect(ids(plan(named))).toEqual(['ns-web', 'ns-db']);
    const message = thrown(() => plan(named, { names: 'Web' })).message;
    expect(message).toContain('step id "ns-{{name}}" renders as "ns-Web", which is not a step id');
    // Two items that render the same id collide, and say which.
    expect(thrown(() => plan(named, { names: 'web,web' })).message).toContain('two steps have the id "ns-web"');
  });

  it('nested loops: every combination, in order, ids with one suffix per loop; inner loops see outer variables', () => {
    const nested = `name: demo
description: x
parameters:
  hosts: { type: list, of: name, default: [a, b] }
steps:
  - foreach: { var: host, in: "{{hosts}}" }
    steps:
      - foreach: { var: port, in: [22, 80], index: j }
        steps:
          - id: allow
            title: allow {{host}}:{{port}}
            why: x
            do: [[allow, "{{host}}", "{{port}}", "{{j}}"]]
            verify: [{ run: ["true"] }]
            undo: [[deny, "{{host}}", "{{port}}"]]
      - { id: done, title: "{{host}} done", why: x, verify: [{ run: ["true"] }] }
`;
    const p = plan(nested);
    expect(ids(p)).toEqual(['allow-1-1', 'allow-1-2', 'done-1', 'allow-2-1', 'allow-2-2', 'done-2']);
    expect(argvs(p).filter(Boolean)).toEqual(['allow a 22 1', 'allow a 80 2', 'allow b 22 1', 'allow b 80 2']);
    // Same values, same ids: what the journal, --until, resume and rollback rely on.
    expect(ids(plan(nested))).toEqual(ids(p));
    // A variable of the inner loop is unknown after it.
    expect(
      thrown(() => parseRunbook(nested.replace('title: "{{host}} done"', 'title: "{{port}}"'), file)).message,
    ).toContain('unknown name {{port}}');
  });

  it('a loop takes from/to or in, not both; the index must not shadow a parameter', () => {
    expect(
      thrown(() => parseRunbook(routes.replace('in: "{{nets}}"', 'in: "{{nets}}", from: 1'), file)).message,
    ).toContain('a loop takes either "from" and "to", or "in"');
    expect(thrown(() => parseRunbook(routes.replace('index: i', 'index: gateway'), file)).message).toContain(
      'steps[0].foreach.index: "gateway" is already a parameter',
    );
  });
});

describe('format errors inside a loop', () => {
  it('a number in an argv is told to be quoted, with its line, as at the top level', () => {
    const message = thrown(() =>
      parseRunbook(routes.replace('[ip, route, add, "{{net}}"', '[ip, -4, route, add, "{{net}}"'), file),
    ).message;
    expect(message).toContain('YAML read this as the number -4, not as text: quote it');
    expect(message).toMatch(/line \d+, column \d+/);
    expect(message).not.toContain('Invalid input');
  });
});
