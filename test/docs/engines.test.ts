import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * package.json's `engines` says what CI tests (issue 26): the lowest version of each range it
 * claims is installed, exactly, by .ci/run from the npm registry's `node` package, and the
 * one-file bundle is run on it. A claim widened without CI, or CI moved without the claim,
 * fails here.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const engines = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } })
  .engines.node;
const ci = readFileSync(path.join(root, '.ci', 'run'), 'utf8');

type Version = [number, number, number];
const parse = (text: string): Version => {
  const [major = 0, minor = 0, patch = 0] = text.replace(/^v/, '').split('.').map(Number);
  return [major, minor, patch];
};
const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** Each range of `engines` (`^20.19.0`, `>=22.12.0`): its lowest version and whether a version is in it. */
function ranges(spec: string): Array<{ lowest: string; includes: (v: Version) => boolean }> {
  return spec.split('||').map((part) => {
    const match = /^\s*(\^|>=)(\d+\.\d+\.\d+)\s*$/.exec(part);
    if (match === null) throw new Error(`engines: "${part.trim()}" is not ^X.Y.Z or >=X.Y.Z`);
    const lowest = parse(match[2]!);
    return {
      lowest: match[2]!,
      includes: (v) => compare(v, lowest) >= 0 && (match[1] === '>=' || v[0] === lowest[0]),
    };
  });
}

/** The versions .ci/run installs to run the bundle on (`for version in …; do`). */
const ciVersions = /^for version in ([^;]+); do$/m.exec(ci)?.[1]?.trim().split(/\s+/) ?? [];

describe("package.json's engines and the Node versions CI runs", () => {
  it('CI installs, exactly, the lowest version of every range engines claims', () => {
    expect(ciVersions.length).toBeGreaterThan(0);
    for (const range of ranges(engines)) expect(ciVersions, `engines ${engines}`).toContain(range.lowest);
  });

  it('every version CI runs, and the node running this test, is one engines claims', () => {
    const claimed = (v: Version) => ranges(engines).some((range) => range.includes(v));
    for (const version of ciVersions) expect(claimed(parse(version)), `node@${version}`).toBe(true);
    expect(claimed(parse(process.version)), process.version).toBe(true);
  });

  it('reads the ranges it knows, and refuses one it does not', () => {
    const [caret, atLeast] = ranges('^20.19.0 || >=22.12.0');
    expect(caret!.includes([20, 19, 0])).toBe(true);
    expect(caret!.includes([20, 18, 3])).toBe(false);
    expect(caret!.includes([21, 0, 0])).toBe(false);
    expect(atLeast!.includes([24, 0, 0])).toBe(true);
    expect(atLeast!.includes([22, 11, 0])).toBe(false);
    expect(() => ranges('20.x')).toThrow(/not \^X\.Y\.Z or >=X\.Y\.Z/);
  });
});
