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

/**
 * A runbook whose YAML aliases expand one list of 1,000 probes into each of `steps` steps: the
 * alias bomb of issue 22 (each alias costs a few bytes of file and a thousand values once expanded).
 */
export function aliasBombRunbook(steps: number, header = 'name: bomb\ndescription: d\n'): string {
  const probes = Array.from(
    { length: 1000 },
    (_, i) => `      - { run: [ip, link, show, dev, x${i}], when: { exit: nonzero }, cause: c }\n`,
  ).join('');
  const aliases = Array.from(
    { length: steps },
    (_, i) => `  - { id: s${i + 1}, title: t, why: w, verify: [{ run: [ip] }], diagnose: *p }\n`,
  ).join('');
  return `${header}steps:\n  - id: s0\n    title: t\n    why: w\n    verify: [{ run: [ip] }]\n    diagnose: &p\n${probes}${aliases}`;
}
