import { describe, expect, it } from 'vitest';
import { planFromYaml } from '../helpers/runbooks.js';
import { loadRunbook } from '../../src/runbook/load.js';
import { resolveParams } from '../../src/runbook/params.js';
import type { Plan } from '../../src/plan/plan.js';
import { renderPlan } from '../../src/runbook/render.js';
import { thrown } from '../helpers/thrown.js';

/** Issue 11: `only_if_created_by` names earlier steps; in a loop, the same pass's step. */

const file = '/srv/runbooks/demo.yaml';

const plan = (source: string, set: Record<string, string> = {}) => planFromYaml(source, set, { file });

const step = (id: string, extra = '') => `
      - id: ${id}
        title: ${id}
        why: x${extra}
        do: [[ip, link, add, name, "v{{n}}", type, dummy]]
        verify: [{ run: [ip, link, show, dev, "v{{n}}"] }]
        undo: [[ip, link, del, dev, "v{{n}}"]]`;

const looped = (second: string) => `name: demo
description: x
parameters:
  count: { type: integer, default: 2, min: 1, max: 9 }
steps:
  - foreach: { var: n, from: 1, to: "{{count}}" }
    steps:${step('make')}${second}
`;

describe('only_if_created_by', () => {
  it('in a loop, names the step of the same pass (its id with the same suffix)', () => {
    const p = plan(looped(step('move', '\n        only_if_created_by: [make]')));
    expect(p.steps.map((s) => [s.id, s.onlyIfCreatedBy])).toEqual([
      ['make-1', undefined],
      ['move-1', ['make-1']],
      ['make-2', undefined],
      ['move-2', ['make-2']],
    ]);
  });

  it('a later or unknown step is refused before anything runs', () => {
    const later = looped(step('move', '\n        only_if_created_by: [move]'));
    expect(thrown(() => plan(later)).message).toContain(
      'step "move-1" has only_if_created_by "move-1", which is not an earlier step',
    );
    const unknown = looped(step('move', '\n        only_if_created_by: [nothing]'));
    expect(thrown(() => plan(unknown)).message).toContain('"nothing-1", which is not an earlier step');
  });

  it('the shipped runbooks never move or re-attach a veth pair they did not create', () => {
    const shipped = (name: string) => {
      const runbook = loadRunbook(name);
      return renderPlan(runbook.spec, resolveParams(runbook.spec, {}, runbook.file));
    };
    const guarded = (p: Plan) => p.steps.filter((s) => s.onlyIfCreatedBy !== undefined).map((s) => s.id);
    expect(guarded(shipped('single-container'))).toEqual(['move-container-end']);
    expect(guarded(shipped('multi-container'))).toEqual([
      'move-container-end-1',
      'attach-to-bridge-1',
      'move-container-end-2',
      'attach-to-bridge-2',
    ]);
  });
});
