import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { loadRunbook, resolveRunbookFile, runbooksDir } from '../../src/runbook/load.js';
import { resolveRunbookToRun, shadowingNote } from '../../src/runbook/locate.js';
import { findRunbooks, runbookSearchPath, untrustedReason } from '../../src/runbook/search-path.js';
import { thrown } from '../helpers/thrown.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { hintText } from '../helpers/advice.js';

const runbook = (name: string, description: string) =>
  `name: ${name}\ndescription: ${description}\nsteps:\n  - { id: x, title: x, why: x, verify: [{ run: ["true"] }] }\n`;

const root = tempDir('runbook-search-');
afterAll(() => removeDir(root));
afterEach(() => vi.unstubAllEnvs());

/** A directory of runbook files, private to this user (as the search path demands). */
function dir(name: string, files: Record<string, string>): string {
  const at = path.join(root, name);
  mkdirSync(at, { recursive: true, mode: 0o755 });
  chmodSync(at, 0o755);
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(at, file), text, { mode: 0o644 });
  return at;
}

describe('the runbook search path', () => {
  const cwd = dir('project', {});
  dir('project/runbooks', {
    'single-container.yaml': runbook('single-container', 'mine'),
    'a.yaml': runbook('a', 'A'),
  });
  const extra = dir('extra', { 'a.yaml': runbook('a', 'extra A'), 'b.yaml': runbook('b', 'B') });
  const more = dir('more', { 'b.yaml': runbook('b', 'more B') });

  it('is ./runbooks, then each $RUNBOOK_PATH dir in order, then the shipped runbooks', () => {
    const searched = runbookSearchPath({ RUNBOOK_PATH: `${extra}::${more}:/does/not/exist` }, cwd);
    expect(searched).toEqual([
      { dir: path.join(cwd, 'runbooks'), origin: './runbooks' },
      { dir: extra, origin: 'RUNBOOK_PATH' },
      { dir: more, origin: 'RUNBOOK_PATH' },
      { dir: runbooksDir, origin: 'shipped' },
    ]);
  });

  it('the first dir holding a name wins; the later files of that name are listed as shadowed', () => {
    const found = findRunbooks(runbookSearchPath({ RUNBOOK_PATH: `${extra}:${more}` }, cwd));
    const byName = Object.fromEntries(found.map((r) => [r.name, r]));
    expect(Object.keys(byName)).toEqual([
      'a',
      'b',
      'cni-bridge',
      'cni-bridge-network',
      'container-internet',
      'forward-filter',
      'multi-container',
      'single-container',
    ]);
    expect(byName.a).toEqual({
      name: 'a',
      file: path.join(cwd, 'runbooks', 'a.yaml'),
      origin: './runbooks',
      shadows: [{ file: path.join(extra, 'a.yaml'), origin: 'RUNBOOK_PATH' }],
    });
    expect(byName.b?.file).toBe(path.join(extra, 'b.yaml'));
    expect(byName.b?.shadows).toEqual([{ file: path.join(more, 'b.yaml'), origin: 'RUNBOOK_PATH' }]);
    expect(byName['single-container']?.shadows).toEqual([
      { file: path.join(runbooksDir, 'single-container.yaml'), origin: 'shipped' },
    ]);
    expect(byName['multi-container']).toMatchObject({ origin: 'shipped', shadows: [] });
  });

  it("run from runbook's own checkout, ./runbooks is the shipped dir and counts once, as shipped", () => {
    const searched = runbookSearchPath({ RUNBOOK_PATH: runbooksDir }, path.dirname(runbooksDir));
    expect(searched).toEqual([{ dir: runbooksDir, origin: 'shipped' }]);
    expect(findRunbooks(searched).every((r) => r.shadows.length === 0)).toBe(true);
  });

  it('a name is looked up on it: a $RUNBOOK_PATH runbook runs by name and hides nothing it should not', () => {
    vi.stubEnv('RUNBOOK_PATH', extra);
    expect(resolveRunbookFile('b')).toBe(path.join(extra, 'b.yaml'));
    expect(loadRunbook('b').spec.description).toBe('B');
    expect(resolveRunbookFile('single-container')).toBe(path.join(runbooksDir, 'single-container.yaml'));
  });

  it('a runbook on the search path can include a shipped one by name', () => {
    const own = dir('own', {
      'net.yaml': 'name: net\ndescription: mine, then part 1\nsteps:\n  - include: single-container\n',
    });
    vi.stubEnv('RUNBOOK_PATH', own);
    const loaded = loadRunbook('net');
    expect(loaded.includes.map((i) => i.file)).toEqual([path.join(runbooksDir, 'single-container.yaml')]);
    expect(loaded.spec.steps.length).toBeGreaterThan(5);
  });

  it('an include found nowhere names the sibling file it looked for, exit 2', () => {
    const own = dir('lost', { 'top.yaml': 'name: top\ndescription: t\nsteps:\n  - include: nowhere\n' });
    const error = thrown(() => loadRunbook(path.join(own, 'top.yaml')));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(`includes "nowhere", but ${path.join(own, 'nowhere.yaml')} does not exist`);
  });
});

describe('a runbook picked by name from a dir others can write is refused (StrictModes)', () => {
  it('a group- or world-writable dir: exit 2, naming the dir and its mode; list says so too', () => {
    const open = dir('open', { 'evil.yaml': runbook('evil', 'planted') });
    chmodSync(open, 0o777);
    vi.stubEnv('RUNBOOK_PATH', open);
    const error = thrown(() => resolveRunbookFile('evil'));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      `refusing runbook "evil" found in RUNBOOK_PATH (${path.join(open, 'evil.yaml')}): ${open} is writable by anyone and not sticky (mode 0777); whoever can change it could make runbook run any command as you; nothing was changed`,
    );
    expect(hintText(error)).toContain(`review it (runbook show ${path.join(open, 'evil.yaml')})`);
    const [found] = findRunbooks([{ dir: open, origin: 'RUNBOOK_PATH' }]);
    expect(untrustedReason(found!)).toContain('writable');
  });

  it('a private runbooks dir inside a dir anyone can write (not sticky) is refused: it could be swapped', () => {
    const above = dir('shared-above', {});
    const inner = dir('shared-above/runbooks', { 'x.yaml': runbook('x', 'x') });
    chmodSync(above, 0o777);
    vi.stubEnv('RUNBOOK_PATH', inner);
    expect(thrown(() => resolveRunbookFile('x')).message).toContain(
      `${above} is writable by anyone and not sticky (mode 0777)`,
    );
    // Sticky, as /tmp is: no one can rename what is not theirs.
    chmodSync(above, 0o1777);
    expect(resolveRunbookFile('x')).toBe(path.join(inner, 'x.yaml'));
  });

  it('a writable file in a private dir, or a symlink to one, is refused too', () => {
    const priv = dir('priv', { 'w.yaml': runbook('w', 'w') });
    chmodSync(path.join(priv, 'w.yaml'), 0o646);
    const target = dir('target', { 't.yaml': runbook('t', 't') });
    chmodSync(target, 0o757);
    symlinkSync(path.join(target, 't.yaml'), path.join(priv, 'link.yaml'));
    vi.stubEnv('RUNBOOK_PATH', priv);
    expect(thrown(() => resolveRunbookFile('w')).message).toContain(
      `${path.join(priv, 'w.yaml')} is writable by anyone (mode 0646)`,
    );
    expect(thrown(() => resolveRunbookFile('link')).message).toContain(`${target} is writable by anyone`);
  });

  it('a dangling symlink is refused by name, and listed as refused rather than breaking list', () => {
    const dangling = dir('dangling', {});
    symlinkSync(path.join(dangling, 'gone.yaml'), path.join(dangling, 'ghost.yaml'));
    vi.stubEnv('RUNBOOK_PATH', dangling);
    expect(thrown(() => resolveRunbookFile('ghost')).message).toContain('cannot be read (ENOENT)');
    const [found] = findRunbooks([{ dir: dangling, origin: 'RUNBOOK_PATH' }]);
    expect(untrustedReason(found!)).toBe(`${path.join(dangling, 'gone.yaml')} cannot be read (ENOENT)`);
  });

  it('the shipped runbooks are not subject to it; an explicit path is, for run and check only (show reviews any file)', () => {
    const open = dir('open2', { 'x.yaml': runbook('x', 'x') });
    chmodSync(open, 0o777);
    expect(loadRunbook(path.join(open, 'x.yaml')).spec.name).toBe('x');
    const error = thrown(() => resolveRunbookToRun(path.join(open, 'x.yaml')));
    expect([error.exitCode, error.message]).toEqual([
      2,
      expect.stringContaining(`refusing runbook file ${path.join(open, 'x.yaml')}: ${open} is writable by anyone`),
    ]);
    expect(resolveRunbookToRun('single-container')).toBe(path.join(runbooksDir, 'single-container.yaml'));
    expect(
      untrustedReason({
        name: 's',
        file: path.join(runbooksDir, 'single-container.yaml'),
        origin: 'shipped',
        shadows: [],
      }),
    ).toBeUndefined();
  });
});

// Files of another owner (a link, an include planted in a sticky dir) need root to make:
// test/integration/other-owners.test.ts.
describe('everything root runs comes from a trusted file (issue 22)', () => {
  it('a relative $RUNBOOK_PATH entry is refused, naming it and its absolute form', () => {
    vi.stubEnv('RUNBOOK_PATH', 'my-runbooks');
    const error = thrown(() => resolveRunbookFile('anything'));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('$RUNBOOK_PATH holds a relative dir, "my-runbooks"');
    expect(hintText(error)).toBe(
      `name it from the root: RUNBOOK_PATH=${path.resolve('my-runbooks')} (or leave it out)`,
    );
  });

  it('a dangling link or a directory planted beside a runbook is refused rather than skipped', () => {
    const own = dir('planted-beside', {
      'top.yaml': 'name: top\ndescription: t\nsteps:\n  - include: single-container\n',
    });
    mkdirSync(path.join(own, 'single-container.yaml'));
    expect(thrown(() => loadRunbook(path.join(own, 'top.yaml'))).message).toContain(
      `${path.join(own, 'single-container.yaml')} is not a regular file`,
    );
  });

  it('run, check and show say in one line which file a name means when it shadows another', () => {
    const cwd = dir('shadowing', {});
    dir('shadowing/runbooks', { 'single-container.yaml': runbook('single-container', 'mine') });
    const here = process.cwd();
    process.chdir(cwd);
    try {
      expect(shadowingNote('single-container')).toBe(
        `note: runbook "single-container" is ${path.join(cwd, 'runbooks', 'single-container.yaml')} (./runbooks), which shadows the shipped one (${path.join(runbooksDir, 'single-container.yaml')})`,
      );
      expect(shadowingNote('multi-container')).toBeUndefined();
      expect(shadowingNote('./runbooks/single-container.yaml')).toBeUndefined();
    } finally {
      process.chdir(here);
    }
  });
});
