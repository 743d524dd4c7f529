import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRunbook } from '../../src/runbook/load.js';
import { fileURLToPath } from 'node:url';
import { thrown } from '../helpers/thrown.js';

/**
 * docs/write-your-own.md runs: every YAML block marked `<!-- from: FILE -->` is a verbatim excerpt
 * of FILE (its lines appear there in order), and every `<!-- trap -->` block, placed under
 * `steps:` of a small runbook, gives the message in the `text` block after it.
 */

/** The checkout this test file sits in. */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const doc = readFileSync(path.join(packageRoot, 'docs', 'write-your-own.md'), 'utf8');

interface Block {
  marker: string | undefined;
  lang: string;
  body: string;
}

/** The fenced blocks of the page, each with the HTML comment just before it, if any. */
function blocks(text: string): Block[] {
  const found: Block[] = [];
  const fence = /(?:<!-- ([^>]*) -->\n)?```(\w*)\n([\s\S]*?)```/g;
  for (const m of text.matchAll(fence)) found.push({ marker: m[1], lang: m[2] ?? '', body: m[3] ?? '' });
  return found;
}

const all = blocks(doc);
const excerpts = all.filter((b) => b.marker?.startsWith('from: '));
const traps = all.flatMap((b, i) => (b.marker === 'trap' ? [{ yaml: b.body, message: all[i + 1] }] : []));

describe('docs/write-your-own.md', () => {
  it('has excerpts and traps to check', () => {
    expect(excerpts.length).toBeGreaterThanOrEqual(10);
    expect(traps.length).toBeGreaterThanOrEqual(7);
  });

  it.each(
    excerpts.map((b) => [b.marker?.slice('from: '.length) ?? '', b.body.split('\n')[0]?.trim() ?? '', b] as const),
  )('the excerpt of %s starting "%s" is in that file, line for line', (file, _first, block) => {
    const source = readFileSync(path.join(packageRoot, file), 'utf8').split('\n');
    let at = 0;
    for (const line of block.body.split('\n').filter((l) => l.trim() !== '')) {
      const found = source.indexOf(line, at);
      expect(found, `"${line}" (after line ${at} of ${file})`).toBeGreaterThanOrEqual(0);
      at = found + 1;
    }
  });

  it.each(
    traps.map(
      (t) =>
        [t.yaml.split('\n').find((l) => l.includes('why') || l.includes('run') || l.includes('\t')) ?? '', t] as const,
    ),
  )('the trap %s gives the message shown', (_label, trap) => {
    expect(trap.message?.lang).toBe('text');
    const source = `name: demo
description: traps
parameters:
  container: { type: name, default: c1 }
steps:
${trap.yaml}`;
    const error = thrown(() => parseRunbook(source, '/srv/runbooks/demo.yaml'));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(trap.message?.body.trim());
  });
});
