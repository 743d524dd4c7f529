import { describe, expect, it } from 'vitest';
import { decideTrustedUsers, trustedUsers } from '../../src/trust/trusted-users.js';
import { packageRoot } from '../../src/version.js';

/**
 * Issue 22, item 3: the owner of the code is trusted as much as the code — when it is the user
 * who ran sudo; nobody else is. The rule as a pure function; applied by the door and by the
 * runbook path check to files of real other owners in test/integration/other-owners.test.ts (it
 * chowns, as root).
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
