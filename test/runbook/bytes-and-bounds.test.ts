import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRunbook } from '../../src/runbook/load.js';
import { maxRunbookBytes, maxValueChars, planLimits } from '../../src/runbook/limits.js';
import { resolveParams } from '../../src/runbook/params.js';
import { prepareRunbook } from '../../src/runbook/prepare.js';
import { renderPlan } from '../../src/runbook/render.js';
import { decodeRunbookBytes, firstInvalidUtf8 } from '../../src/runbook/runbook-text.js';
import { thrown } from '../helpers/thrown.js';
import { aliasBombRunbook } from '../helpers/runbooks.js';
import { tempDirsRemovedAfterAll } from '../helpers/temp-dir.js';

/**
 * Issue 22, items 7 and 8: a runbook file is UTF-8 text without NUL, of a bounded size, whose
 * YAML aliases and loops expand to a bounded plan; anything else is refused with exit 2 before
 * it is expanded, naming the file, the place and the limit.
 */

const tempDir = tempDirsRemovedAfterAll('runbook-bytes-');

function runbookFile(content: string | Buffer, name = 'demo.yaml'): string {
  const file = path.join(tempDir(), name);
  writeFileSync(file, content);
  return file;
}

const step = (id: string, argv = '[ip, link, show]') => `  - id: ${id}
    title: Step ${id}
    why: test
    verify:
      - run: ${argv}
`;
const header = 'name: demo\ndescription: demo\n';

describe('bytes: UTF-8 text without NUL (item 8)', () => {
  it('a Latin-1 byte in an interface name: exit 2 with its line and column, not a silent U+FFFD', () => {
    const text = Buffer.concat([
      Buffer.from(`${header}steps:\n${step('a')}  - id: b\n    title: Make `),
      Buffer.from([0xe9]), // é in Latin-1
      Buffer.from(`th1\n    why: w\n    verify: [{ run: [ip, link, show, dev, "v`),
      Buffer.from([0xe9]),
      Buffer.from(`"] }]\n`),
    ]);
    const error = thrown(() => prepareRunbook(runbookFile(text), []));
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/demo\.yaml: not UTF-8 text: the byte 0xe9 at line 10, column 17 is not part of/);
    expect(error.message).toContain('nothing was run');
    expect(String(error.hint)).toContain('UTF-8');
  });

  it('a NUL byte: exit 2 with its line and column', () => {
    const error = thrown(() => prepareRunbook(runbookFile(`${header}steps:\n${step('a', '[ip, "li\0nk"]')}`), []));
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/demo\.yaml: a NUL byte at line 8, column 22/);
  });

  it('a "\\0" escape in a quoted argv element: exit 2 naming the field, line and column', () => {
    const error = thrown(() => prepareRunbook(runbookFile(`${header}steps:\n${step('a', '[ip, link, "a\\0b"]')}`), []));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('steps[0].verify[0].run[2] holds a NUL character');
    expect(error.message).toContain('(line 8, column 25)');
  });

  it('a "\\x00" escape in a parameter default: refused the same way', () => {
    const text = `${header}parameters:\n  x: { type: string, default: "a\\x00" }\nsteps:\n${step('a')}`;
    const error = thrown(() => parseRunbook(text, '/virtual/demo.yaml'));
    expect(error.message).toContain('parameters.x.default holds a NUL character');
  });

  it('multi-byte text (é, →, emoji) is read as it is', () => {
    const text = `${header}steps:\n  - id: a\n    title: Café → 🚀\n    why: w\n    verify: [{ run: [ip] }]\n`;
    expect(prepareRunbook(runbookFile(text), []).plan.steps[0]?.title).toBe('Café → 🚀');
  });

  it.each([
    ['an overlong "/"', [0xc0, 0xaf], 0],
    ['an overlong 3-byte form', [0x41, 0xe0, 0x80, 0xaf], 1],
    ['a surrogate half', [0xed, 0xa0, 0x80], 0],
    ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
    ['a truncated sequence', [0x41, 0x42, 0xe2, 0x86], 2],
    ['a lone continuation byte', [0x41, 0x80], 1],
  ])('firstInvalidUtf8 finds %s', (_what, bytes, at) => {
    expect(firstInvalidUtf8(Uint8Array.from(bytes))).toBe(at);
    expect(() => decodeRunbookBytes(Uint8Array.from(bytes), 'x.yaml')).toThrow(/not UTF-8 text/);
  });
});

describe('bounds on input size (item 7)', () => {
  it('a file over the size limit is refused before it is parsed', () => {
    const file = runbookFile(`${header}# ${'x'.repeat(maxRunbookBytes)}\nsteps:\n${step('a')}`);
    const error = thrown(() => prepareRunbook(file, []));
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/too large for a runbook \(\d+ bytes; at most 262144\)/);
  });

  it('YAML aliases that expand to millions of probes: refused naming the limit, before any is expanded', () => {
    const text = aliasBombRunbook(2000, header);
    expect(Buffer.byteLength(text)).toBeLessThan(maxRunbookBytes);
    const error = thrown(() => parseRunbook(text, '/virtual/bomb.yaml'));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(
      'bomb.yaml: too large once its YAML aliases are expanded (more than 500,000 values',
    );
  });

  it('an exponential alias bomb (9 levels of 9) is refused by the same count', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [i, name] of [...'bcdefghi'].entries()) {
      const previous = 'abcdefgh'[i] as string;
      lines.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`);
    }
    const error = thrown(() => parseRunbook(`${lines.join('\n')}\n`, '/virtual/bomb.yaml'));
    expect(error.message).toContain('too large once its YAML aliases are expanded');
  });

  const loop = `${header}parameters:\n  n: { type: integer, default: 2 }\nsteps:\n  - foreach: { var: i, from: 1, to: "{{n}}" }\n    steps:\n${step('s', '[ip, link, show, "veth{{i}}"]').replace(/^/gm, '    ')}`;

  it('--set n=20000000 for a loop bound: refused naming the loop and how to raise the limit, nothing expanded', () => {
    const runbook = parseRunbook(loop, '/virtual/loop.yaml');
    const params = resolveParams(runbook.spec, { n: '20000000' }, 'x');
    const error = thrown(() => renderPlan(runbook.spec, params));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      'runbook demo: a loop of 20,000,000 iterations, more than the 10,000 steps a plan may have (in foreach i from 1 to 20000000); nothing was run',
    );
    expect(JSON.stringify(error.hint)).toContain('RUNBOOK_MAX_STEPS=N');
  });

  it('nested loops that multiply past the step limit are refused; the limit can be raised', () => {
    const nested = `${header}parameters:\n  n: { type: integer, default: 2 }\nsteps:\n  - foreach: { var: i, from: 1, to: "{{n}}" }\n    steps:\n      - foreach: { var: j, from: 1, to: "{{n}}" }\n        steps:\n${step('s', '[ip, link, show, "veth{{i}}{{j}}"]').replace(/^/gm, '        ')}`;
    const runbook = parseRunbook(nested, '/virtual/nested.yaml');
    const params = resolveParams(runbook.spec, { n: '101' }, 'x');
    const error = thrown(() => renderPlan(runbook.spec, params));
    expect(error.message).toMatch(
      /more than 10,000 steps once its loops are expanded \(in foreach i from 1 to 101, in foreach j from 1 to 101\)/,
    );
    expect(renderPlan(runbook.spec, params, { limits: planLimits('20000') }).steps).toHaveLength(101 * 101);
  });

  it('a value longer than the limit is refused; one at the limit is accepted', () => {
    const text = `${header}parameters:\n  x: { type: string, default: a }\nsteps:\n${step('a', '[echo, "{{x}}"]')}`;
    const runbook = parseRunbook(text, '/virtual/value.yaml');
    const error = thrown(() => resolveParams(runbook.spec, { x: 'v'.repeat(maxValueChars + 1) }, 'x'));
    expect(error.message).toContain('it is 65,537 characters long; a value is at most 65,536');
    expect(resolveParams(runbook.spec, { x: 'v'.repeat(maxValueChars) }, 'x').x).toHaveLength(maxValueChars);
  });

  it('a value repeated in one argument past what Linux takes is refused before the text is built', () => {
    const text = `${header}parameters:\n  x: { type: string, default: a }\nsteps:\n${step('a', `[echo, "${'{{x}}'.repeat(5)}"]`)}`;
    const runbook = parseRunbook(text, '/virtual/value.yaml');
    const params = resolveParams(runbook.spec, { x: 'v'.repeat(30_000) }, 'x');
    const error = thrown(() => renderPlan(runbook.spec, params));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('would be more than 131,071 characters once its values are filled in');
  });

  it('a long value repeated in every step of a large loop: refused by the plan size, not rendered into gigabytes', () => {
    const args = Array(20).fill('"{{x}}"').join(', ');
    const text = `${header}parameters:\n  x: { type: string, default: a }\nsteps:\n  - foreach: { var: i, from: 1, to: 5000 }\n    steps:\n${step('s', `[echo, ${args}]`).replace(/^/gm, '    ')}`;
    const runbook = parseRunbook(text, '/virtual/value.yaml');
    const params = resolveParams(runbook.spec, { x: 'v'.repeat(60_000) }, 'x');
    const error = thrown(() => renderPlan(runbook.spec, params));
    expect(error.message).toContain('its rendered plan would hold more than 100,000,000 characters');
  });

  it('the shipped runbooks at their largest are far inside every limit', () => {
    expect(prepareRunbook('container-internet', ['count=250']).plan.steps.length).toBe(3005);
  });
});
