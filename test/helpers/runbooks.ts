import { parseRunbook } from '../../src/runbook/load.js';
import { resolveParams } from '../../src/runbook/params.js';
import type { Plan } from '../../src/plan/plan.js';
import { renderPlan } from '../../src/runbook/render.js';

/**
 * Runbook text for tests, and its plan: parsed, validated and rendered as `run` would, from text
 * (no file is read; `file` is only what messages and includes name).
 */
export function planFromYaml(
  source: string,
  set: Record<string, string> = {},
  options: { file?: string; inSandbox?: boolean } = {},
): Plan {
  const file = options.file ?? '/srv/runbooks/demo.yaml';
  const { spec } = parseRunbook(source, file);
  return renderPlan(spec, resolveParams(spec, set, file, { inSandbox: options.inSandbox }));
}

/** A runbook whose steps each create, check and delete one FakeHost thing (test/helpers/fake-executor.ts). */
export function fakeRunbook(ids: readonly string[], name = 'fake'): string {
  const steps = ids.map((id) =>
    [
      `  - id: ${id}`,
      `    title: make ${id}`,
      `    why: a test step`,
      `    do: [[create, ${id}]]`,
      `    verify: [{ run: [has, ${id}] }]`,
      `    undo: [[delete, ${id}]]`,
    ].join('\n'),
  );
  return [`name: ${name}`, 'description: steps that drive FakeHost', 'steps:', ...steps, ''].join('\n');
}
