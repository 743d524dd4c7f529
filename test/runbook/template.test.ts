import { describe, expect, it } from 'vitest';
import {
  hasMalformedPlaceholder,
  placeholdersIn,
  renderDeep,
  renderTemplate,
  stringsIn,
} from '../../src/runbook/template.js';
import { renderPlan } from '../../src/runbook/render.js';
import type { ResolvedRunbook } from '../../src/runbook/load.js';

const values = { container: 'container1', cidr: '172.16.0.2/24', veth: 'veth1', evil: 'a b; rm -rf / $(x)' };

describe('renderTemplate', () => {
  it('substitutes {{p}}', () => {
    expect(renderTemplate('{{container}}', values)).toBe('container1');
    expect(renderTemplate('ns={{container}} dev={{veth}}', values)).toBe('ns=container1 dev=veth1');
  });

  it('tolerates spaces inside the braces', () => {
    expect(renderTemplate('{{ container }}', values)).toBe('container1');
  });

  it('takes the address and the prefix length of a CIDR with .address and .prefixlen', () => {
    expect(renderTemplate('{{cidr}}', values)).toBe('172.16.0.2/24');
    expect(renderTemplate('{{cidr.address}}', values)).toBe('172.16.0.2');
    expect(renderTemplate('{{cidr.prefixlen}}', values)).toBe('24');
    expect(renderTemplate('{{cidr.address}}/{{cidr.prefixlen}}', values)).toBe('172.16.0.2/24');
  });

  it('leaves text without placeholders alone', () => {
    expect(renderTemplate('ip -j link show', values)).toBe('ip -j link show');
    expect(renderTemplate('', values)).toBe('');
  });

  it('substitutes the value verbatim: no shell, no re-splitting, no recursive expansion', () => {
    expect(renderTemplate('{{evil}}', values)).toBe('a b; rm -rf / $(x)');
    expect(renderTemplate('{{x}}', { x: '{{container}}' })).toBe('{{container}}');
  });

  it('refuses a placeholder with no value (validation prevents it before rendering)', () => {
    expect(() => renderTemplate('{{missing}}', values)).toThrow('no value for {{missing}}');
  });
});

describe('renderPlan never splits an argv element', () => {
  const spec: ResolvedRunbook = {
    name: 't',
    description: 'd',
    parameters: { p: { type: 'name', default: 'x' }, cidr: { type: 'ipv4-cidr', default: '10.1.2.3/16' } },
    steps: [
      {
        id: 's',
        requires: [],
        capture: {},
        title: 'Make {{p}}',
        why: 'because {{p}}',
        do: [['echo', '{{p}}', 'pre-{{p}}-post'], { run: ['sleep', '{{p}}'], timeout: 2.5 }],
        verify: [
          {
            run: ['check', '{{cidr.address}}'],
            expect: { json: { local: '{{cidr.address}}', prefixlen: '{{cidr.prefixlen}}', list: ['{{p}}'] } },
          },
        ],
        undo: [['undo', '{{p}}']],
        diagnose: [
          {
            run: ['probe', '{{p}}'],
            when: { not: { output_contains: '{{p}}' } },
            cause: '{{p}} is gone',
            fix: 'make {{p}}',
          },
        ],
      },
      {
        id: 'v',
        title: 'V',
        why: 'W',
        requires: [],
        capture: {},
        do: [],
        verify: [{ run: ['true'] }],
        undo: [],
        diagnose: [],
      },
    ],
  };

  it('keeps a value with spaces as one argument, and argv lengths unchanged', () => {
    const plan = renderPlan(spec, { p: 'two words; and more', cidr: '10.1.2.3/16' });
    const step = plan.steps[0]!;
    expect(step.do[0]!.argv).toEqual(['echo', 'two words; and more', 'pre-two words; and more-post']);
    expect(step.do[1]!.argv).toEqual(['sleep', 'two words; and more']);
    expect(step.undo[0]!.argv).toEqual(['undo', 'two words; and more']);
    expect(step.diagnose[0]!.argv).toEqual(['probe', 'two words; and more']);
  });

  it('renders titles, expectations, causes and fixes; applies timeouts', () => {
    const plan = renderPlan(spec, { p: 'web1', cidr: '10.1.2.3/16' });
    const step = plan.steps[0]!;
    expect(plan.runbook).toBe('t');
    expect(plan.params).toEqual({ p: 'web1', cidr: '10.1.2.3/16' });
    expect(step.title).toBe('Make web1');
    expect(step.why).toBe('because web1');
    expect(step.do[0]!.timeoutMs).toBe(5000);
    expect(step.do[1]!.timeoutMs).toBe(2500);
    expect(step.verify[0]).toEqual({
      argv: ['check', '10.1.2.3'],
      timeoutMs: 5000,
      expect: { json: { local: '10.1.2.3', prefixlen: '16', list: ['web1'] } },
    });
    expect(step.diagnose[0]).toMatchObject({
      when: { not: { output_contains: 'web1' } },
      cause: 'web1 is gone',
      fix: 'make web1',
    });
    // A check with no expectation expects exit status 0.
    expect(plan.steps[1]!.verify[0]!.expect).toEqual({ exit: 0 });
  });

  it('is pure: the spec is not modified and rendering twice gives the same plan', () => {
    const before = JSON.stringify(spec);
    const a = renderPlan(spec, { p: 'a', cidr: '10.0.0.1/8' });
    const b = renderPlan(spec, { p: 'a', cidr: '10.0.0.1/8' });
    expect(JSON.stringify(spec)).toBe(before);
    expect(a).toEqual(b);
  });
});

describe('placeholder helpers', () => {
  it('placeholdersIn lists the parameter names, including .address / .prefixlen uses', () => {
    expect(placeholdersIn('{{a}} {{ b }} {{c.address}} {{c.prefixlen}} plain')).toEqual(['a', 'b', 'c', 'c']);
    expect(placeholdersIn('no placeholders')).toEqual([]);
  });

  it('hasMalformedPlaceholder spots braces that are not a valid placeholder', () => {
    expect(hasMalformedPlaceholder('{{a}} and {{b.address}}')).toBe(false);
    // {{a.b}} is a record's field or an address helper: whether `a` has it is checked when the file is read.
    expect(hasMalformedPlaceholder('{{a.}}')).toBe(true);
    expect(hasMalformedPlaceholder('{{Upper}}')).toBe(true);
    expect(hasMalformedPlaceholder('{{a')).toBe(true);
    expect(hasMalformedPlaceholder('{{}}')).toBe(true);
    expect(hasMalformedPlaceholder('just { braces }')).toBe(false);
  });

  it('renderDeep renders every string inside objects and arrays, keeping other values', () => {
    expect(renderDeep({ a: '{{container}}', b: [1, '{{veth}}', { c: null, d: true }] }, values)).toEqual({
      a: 'container1',
      b: [1, 'veth1', { c: null, d: true }],
    });
  });

  it('stringsIn finds every string in a JSON-like value', () => {
    expect(stringsIn({ a: 'x', b: ['y', { c: 'z', d: 3 }], e: null })).toEqual(['x', 'y', 'z']);
  });
});
