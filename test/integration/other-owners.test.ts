import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { indexFile, plansDir, runsDir } from '../../src/journal/paths.js';
import { loadRunbook, resolveRunbookFile, runbooksDir } from '../../src/runbook/load.js';
import { resolveRunbookToRun } from '../../src/runbook/locate.js';
import { openRunStore } from '../../src/store/open-run-store.js';
import { untrustedPathReason } from '../../src/trust/path-trust.js';
import { decideTrustedUsers } from '../../src/trust/trusted-users.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { thrown } from '../helpers/thrown.js';
import { hintText } from '../helpers/advice.js';

/**
 * Trust (issue 22) against files that belong to other users: a state dir, its entries, a
 * checkout, a link or an include of someone else's. Making them takes chown, so root, hence this
 * tier; the tests touch no kernel. The same rules with the test's own files run in the unit tier
 * without root: test/journal/state-dir-trust.test.ts, test/trust/trusted-users.test.ts,
 * test/runbook/search-path.test.ts.
 */

/** A uid no one uses here: another user, as an attacker would be. */
const nobody = 65534;
const alice = 4242;
const bob = 4343;

afterEach(() => vi.unstubAllEnvs());

describe('openRunStore, the one door: a state dir or an entry of another owner', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'runbook-trust-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a state dir with another owner: exit 2, the path, owner, mode and the fix', () => {
    chownSync(dir, nobody, nobody);
    for (const access of ['read', 'write'] as const) {
      const error = thrown(() => openRunStore(dir, access));
      expect(error.code).toBe('untrusted-state-dir');
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain(dir);
      expect(error.message).toMatch(/is owned by nobody \(uid 65534\), not by you \(root\)/);
      expect(hintText(error)).toBe(`if its content is yours to trust: chown root: ${dir}; chmod 700 ${dir}`);
    }
  });

  it.each([
    ['runs/ owned by another user', () => (mkdirSync(runsDir(dir)), chownSync(runsDir(dir), nobody, nobody)), 'runs'],
    [
      'an index of another user',
      () => (
        mkdirSync(runsDir(dir)),
        writeFileSync(indexFile(dir, 'r'), '{}'),
        chownSync(indexFile(dir, 'r'), nobody, nobody)
      ),
      'runs/r.json',
    ],
    [
      'a cached plan of another user',
      () => (
        mkdirSync(plansDir(dir)),
        writeFileSync(path.join(plansDir(dir), 'p.json'), '{}'),
        chownSync(path.join(plansDir(dir), 'p.json'), nobody, nobody)
      ),
      'plans/p.json',
    ],
  ])('refuses an entry: %s', (_what, plant, entry) => {
    plant();
    const error = thrown(() => openRunStore(dir, 'read'));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(`${entry} in the state dir ${path.join(dir, entry)}`);
  });
});

const runbook = (name: string, description: string) =>
  `name: ${name}\ndescription: ${description}\nsteps:\n  - { id: x, title: x, why: x, verify: [{ run: ["true"] }] }\n`;

const root = tempDir('runbook-search-');
afterAll(() => removeDir(root));

/** A directory of runbook files, private to this user (as the search path demands). */
function dir(name: string, files: Record<string, string>): string {
  const at = path.join(root, name);
  mkdirSync(at, { recursive: true, mode: 0o755 });
  chmodSync(at, 0o755);
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(at, file), text, { mode: 0o644 });
  return at;
}

describe('the runbook search path: files of another owner', () => {
  it('a link on the way owned by another user is refused, even when its target is fine (the link, as find -L would not)', () => {
    const real = dir('real', { 'x.yaml': runbook('x', 'real') });
    const via = dir('via', {});
    symlinkSync(real, path.join(via, 'runbooks'));
    lchownSync(path.join(via, 'runbooks'), nobody, nobody);
    vi.stubEnv('RUNBOOK_PATH', path.join(via, 'runbooks'));
    expect(thrown(() => resolveRunbookFile('x')).message).toContain(
      `${path.join(via, 'runbooks')} is a symbolic link owned by nobody (uid 65534), who could point it anywhere`,
    );
    lchownSync(path.join(via, 'runbooks'), 0, 0);
    expect(resolveRunbookFile('x')).toBe(path.join(via, 'runbooks', 'x.yaml'));
  });

  it("an include beside root's runbook in a sticky 1777 dir, planted by another user, is refused; it never falls back to the shipped one", () => {
    const shared = dir('sticky', {
      'mine.yaml': "name: mine\ndescription: root's\nsteps:\n  - include: single-container\n",
    });
    chmodSync(shared, 0o1777);
    // Without a sibling, the include finds the shipped runbook.
    expect(loadRunbook(path.join(shared, 'mine.yaml')).includes[0]?.file).toBe(
      path.join(runbooksDir, 'single-container.yaml'),
    );
    const planted = path.join(shared, 'single-container.yaml');
    writeFileSync(planted, runbook('single-container', 'planted'), { mode: 0o644 });
    chownSync(planted, nobody, nobody);
    for (const load of [() => loadRunbook(path.join(shared, 'mine.yaml')), () => resolveRunbookToRun(planted)]) {
      const error = thrown(load);
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain(`${planted} is owned by nobody (uid 65534)`);
    }
    // Root's own file in the sticky dir is fine: no one else can rename or replace it there.
    chownSync(planted, 0, 0);
    expect(loadRunbook(path.join(shared, 'mine.yaml')).includes[0]?.file).toBe(planted);
  });
});

describe('the rule, applied to a state dir and to a runbook path', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'runbook-owner-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A clone owned by `owner`, with its state/ (0755, as git makes it) inside. */
  function clone(owner: number): { code: string; state: string } {
    const code = path.join(dir, 'clone');
    const state = path.join(code, 'state');
    mkdirSync(state, { recursive: true });
    chmodSync(code, 0o755);
    chmodSync(state, 0o755);
    chownSync(code, owner, owner);
    chownSync(state, owner, owner);
    return { code, state };
  }

  it("the learner: root through sudo by alice, alice's clone, its state/ (alice's, 0755) is trusted and written", () => {
    const { code, state } = clone(alice);
    const trust = decideTrustedUsers({ me: 0, sudoUid: String(alice), code: { owner: alice, dir: code } });
    const store = openRunStore(state, 'write', { trust });
    store.appendAudit({ type: 'test' });
    expect(store.listRuns()).toEqual([]);
  });

  it("a third user's clone: refused, saying whose code it is and why, with a state dir of one's own offered first", () => {
    const { code, state } = clone(bob);
    const trust = decideTrustedUsers({ me: 0, sudoUid: String(alice), code: { owner: bob, dir: code } });
    const own = path.join(dir, 'root-state');
    const error = thrown(() => openRunStore(state, 'write', { trust, ownStateDir: own }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(`${code}, above the state dir ${state}, is owned by uid ${bob}`);
    expect(error.message).toContain(
      `the runbook you run (${code}) belongs to uid ${bob}, and you ran it as sudo by uid ${alice}: a checkout owner's files are trusted only when that owner runs it with sudo`,
    );
    expect(hintText(error)).toBe(`use a state dir of your own: --state-dir ${own}`);
    // The hint works when followed.
    openRunStore(own, 'write', { trust, ownStateDir: own }).appendAudit({ type: 'test' });
  });

  it("a runbook in alice's clone is believed under alice's sudo, not under bob's", () => {
    const { code } = clone(alice);
    const file = path.join(code, 'mine.yaml');
    writeFileSync(file, 'name: mine\n', { mode: 0o644 });
    chownSync(file, alice, alice);
    const asAlice = decideTrustedUsers({ me: 0, sudoUid: String(alice), code: { owner: alice, dir: code } });
    const asBob = decideTrustedUsers({ me: 0, sudoUid: String(bob), code: { owner: alice, dir: code } });
    expect(untrustedPathReason(file, asAlice)).toBeUndefined();
    expect(untrustedPathReason(file, asBob)).toBe(`${code} is owned by uid ${alice}`);
  });
});
