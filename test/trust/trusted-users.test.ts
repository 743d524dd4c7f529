import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRunStore } from '../../src/store/open-run-store.js';
import { decideTrustedUsers, trustedUsers } from '../../src/trust/trusted-users.js';
import { untrustedPathReason } from '../../src/trust/path-trust.js';
import { packageRoot } from '../../src/version.js';
import { thrown } from '../helpers/thrown.js';
import { hintText } from '../helpers/advice.js';

/**
 * Issue 22, item 3: the owner of the code is trusted as much as the code — when it is the user
 * who ran sudo; nobody else is. The rule as a pure function, then applied by the door and by the
 * runbook path check, with real owners (these tests chown, as root).
 */

const alice = 4242;
const bob = 4343;
const checkout = '/home/alice/runbook';

describe('whose files are believed', () => {
  it('root, running through sudo the checkout of the user who ran sudo: root and that user', () => {
    const users = decideTrustedUsers({ me: 0, sudoUid: String(alice), code: { owner: alice, dir: checkout } });
    expect([...users.uids].sort()).toEqual([0, alice]);
    expect(users.invoker).toBe(alice);
  });

  it("root, running through sudo by alice the checkout of bob (a third user): root only, bob's files are not", () => {
    const users = decideTrustedUsers({ me: 0, sudoUid: String(alice), code: { owner: bob, dir: '/home/bob/runbook' } });
    expect([...users.uids]).toEqual([0]);
  });

  it("root without sudo (a root login), running alice's checkout: root only", () => {
    expect([...decideTrustedUsers({ me: 0, sudoUid: undefined, code: { owner: alice, dir: checkout } }).uids]).toEqual([
      0,
    ]);
  });

  it("SUDO_UID alone trusts no one: the invoker's files are trusted only when the invoker owns the code root runs", () => {
    const installed = { owner: 0, dir: '/usr/lib/node_modules/runbook' };
    expect([...decideTrustedUsers({ me: 0, sudoUid: String(alice), code: installed }).uids]).toEqual([0]);
    expect(decideTrustedUsers({ me: 0, sudoUid: String(alice), code: installed }).code).toBeUndefined();
  });

  it('a user: themselves and root, whoever owns the code; SUDO_UID means nothing to a process that is not root', () => {
    const users = decideTrustedUsers({
      me: alice,
      sudoUid: String(bob),
      code: { owner: bob, dir: '/home/bob/runbook' },
    });
    expect([...users.uids].sort()).toEqual([0, alice]);
    expect(users.invoker).toBeUndefined();
  });

  it('a SUDO_UID that is not a number is ignored', () => {
    for (const sudoUid of ['', 'alice', '-1', '4242x'])
      expect([...decideTrustedUsers({ me: 0, sudoUid, code: { owner: alice, dir: checkout } }).uids]).toEqual([0]);
  });

  it('this process: the code is this checkout, and its owner is known', () => {
    expect(trustedUsers().code?.dir ?? packageRoot).toBe(packageRoot);
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
