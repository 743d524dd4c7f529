import { describe, expect, it } from 'vitest';
import { terminalSafe } from '../../src/text/plain-text.js';

/** Issue 22, item 9: what reaches the terminal cannot act on it. */
describe('terminalSafe', () => {
  it.each([
    ['an escape sequence', 'a\u001b[2Jb', 'a\\u001b[2Jb'],
    ['a carriage return (overwrites the line)', 'ok\rFAIL', 'ok\\u000dFAIL'],
    ['a C1 control (CSI)', 'a\u009b2Jb', 'a\\u009b2Jb'],
    ['DEL and a bell', 'a\u007f\u0007', 'a\\u007f\\u0007'],
    ['a right-to-left override', 'veth\u202e1', 'veth\\u202e1'],
    ['a zero-width space', 'veth\u200b1', 'veth\\u200b1'],
    ['a line separator', 'a\u2028b', 'a\\u2028b'],
  ])('shows %s as a \\u escape', (_what, text, shown) => {
    expect(terminalSafe(text)).toBe(shown);
  });

  it('keeps line breaks, tabs and printable text (accents, arrows, emoji) as they are', () => {
    const text = 'run ok\n  changed\tstep → café ✓ 🚀';
    expect(terminalSafe(text)).toBe(text);
  });

  it('keeps JSON valid, with the same value', () => {
    const value = { label: 'ceth1:\u001b[2J\u0085\u202e', note: 'a\nb' };
    const line = terminalSafe(JSON.stringify(value));
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(JSON.parse(line)).toEqual(value);
  });
});
