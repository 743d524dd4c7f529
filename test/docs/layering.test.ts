import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cruise, type IConfiguration } from 'dependency-cruiser';
import { afterAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

// The layering of src/ (issue 27): `npm run lint` runs dependency-cruiser with
// .dependency-cruiser.mjs; CONTRIBUTING.md states the same order. Here the check itself is
// attacked on a small copy of src/ (test/fixtures/layering): it must fail on a new cycle and
// on an import against the order, type-only imports included.
const root = path.join(import.meta.dirname, '..', '..');
const configFile = path.join(root, '.dependency-cruiser.mjs');
const { default: config, layers } = (await import(configFile)) as { default: IConfiguration; layers: string[] };
const fixture = tempDir('runbook-layering-');
afterAll(() => removeDir(fixture));
cpSync(path.join(root, 'test', 'fixtures', 'layering'), fixture, { recursive: true });

/** The rules the check breaks on the fixture, as "rule: from → to". */
async function violations(): Promise<string[]> {
  const result = await cruise(['src'], {
    baseDir: fixture,
    ruleSet: { forbidden: config.forbidden },
    tsPreCompilationDeps: true,
    validate: true,
  });
  if (typeof result.output === 'string') throw new Error('expected a cruise result');
  return result.output.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
}

/** Adds an import at the top of a fixture file. */
function addImport(file: string, line: string): void {
  const full = path.join(fixture, file);
  writeFileSync(full, `${line}\n${readFileSync(full, 'utf8')}`);
}

describe('the layering check', () => {
  it('passes the fixture as it is: each folder imports only folders below it, with no cycle', async () => {
    expect(await violations()).toEqual([]);
  });

  it('fails on a new import cycle, even of a type-only import', async () => {
    addImport('src/engine/steps.ts', "import type { run } from './run.js';\nexport type Run = typeof run;");
    expect(await violations()).toEqual(expect.arrayContaining([expect.stringMatching(/^no-cycle: src\/engine\//)]));
  });

  it('fails on an import against the order, even a type-only one', async () => {
    addImport(
      'src/journal/entries.ts',
      "import type { Plan } from '../runbook/plan.js';\nexport type Recorded = Plan;",
    );
    expect(await violations()).toContain(
      'journal-imports-no-layer-above: src/journal/entries.ts → src/runbook/plan.ts',
    );
  });

  it('fails on a folder that is not in the layers', async () => {
    cpSync(path.join(fixture, 'src', 'engine'), path.join(fixture, 'src', 'elsewhere'), { recursive: true });
    expect(await violations()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^folder-in-the-layers: src\/elsewhere\//)]),
    );
    // Even one that imports nothing, once something imports it.
    addImport(
      'src/engine/run.ts',
      "import { stepsOf as elsewhere } from '../elsewhere/steps.js';\nexport { elsewhere };",
    );
    expect(await violations()).toContain('imported-folder-in-the-layers: src/engine/run.ts → src/elsewhere/steps.ts');
  });
});

describe('CONTRIBUTING.md states the layering the check enforces', () => {
  it('lists the folders of src/ in the same order, highest first', () => {
    const text = readFileSync(path.join(root, 'CONTRIBUTING.md'), 'utf8');
    const section = text.slice(text.indexOf('### Layers'), text.indexOf('\n## ', text.indexOf('### Layers')));
    const stated = [...section.matchAll(/^\| `src\/([a-z-]+)\/` \|/gm)].map((m) => m[1]);
    expect(stated).toEqual([...layers].reverse());
  });
});
