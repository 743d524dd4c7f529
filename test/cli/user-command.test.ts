import { describe, expect, it } from 'vitest';
import { currentUserPlace, forUser, type UserPlace } from '../../src/host/user-command.js';

const host: UserPlace = { kind: 'host' };
const lab: UserPlace = { kind: 'in', sandbox: 'lab', stateDir: undefined };
const labElsewhere: UserPlace = { kind: 'in', sandbox: 'lab', stateDir: '/tmp/my state' };
const shell: UserPlace = { kind: 'shell', sandbox: 'lab' };
const oneShot: UserPlace = { kind: 'one-shot' };

describe('forUser: every command we print is right where the user types it', () => {
  it('leaves commands alone on a plain host and in an interactive sandbox shell', () => {
    for (const place of [host, shell]) {
      expect(forUser('runbook resume 2026', place)).toBe('runbook resume 2026');
      expect(forUser('ip route add 172.16.0.0/24 dev veth1', place)).toBe('ip route add 172.16.0.0/24 dev veth1');
    }
  });

  it('puts --in NAME into runbook commands of a user outside the sandbox, after sudo, with an explicit --state-dir', () => {
    expect(forUser('runbook resume 2026', lab)).toBe('runbook --in lab resume 2026');
    expect(forUser('sudo runbook check single-container', lab)).toBe('sudo runbook --in lab check single-container');
    expect(forUser('runbook journal <run-id> --verify', lab)).toBe('runbook --in lab journal <run-id> --verify');
    expect(forUser('runbook rollback 2026', labElsewhere)).toBe(
      "runbook --state-dir '/tmp/my state' --in lab rollback 2026",
    );
  });

  it('wraps a kernel command in `runbook sandbox shell NAME -c`, quoted for the shell', () => {
    expect(forUser('ip -n container1 route add default via 172.16.0.2 dev ceth1', lab)).toBe(
      "runbook sandbox shell lab -c 'ip -n container1 route add default via 172.16.0.2 dev ceth1'",
    );
    expect(forUser('sysctl -w net.ipv4.conf.all.arp_ignore=0', labElsewhere)).toBe(
      "runbook --state-dir '/tmp/my state' sandbox shell lab -c 'sysctl -w net.ipv4.conf.all.arp_ignore=0'",
    );
  });

  it('places prose around commands inside the sandbox shell, where its commands work as written', () => {
    expect(forUser('ip netns add container1   (or: runbook run single-container)', lab)).toBe(
      'in `runbook sandbox shell lab`: ip netns add container1   (or: runbook run single-container)',
    );
  });

  it('never offers a kernel command for a one-shot sandbox host, which is gone', () => {
    expect(forUser('ip route add 172.16.0.0/24 dev veth1', oneShot)).toBe(
      'in the sandbox host, gone with this command: ip route add 172.16.0.0/24 dev veth1',
    );
    expect(forUser('runbook journal 2026', oneShot)).toBe('runbook journal 2026');
  });

  it('reads the place from the environment the sandbox machinery sets', () => {
    expect(currentUserPlace({})).toEqual(host);
    expect(currentUserPlace({ RUNBOOK_SANDBOX: 'lab', RUNBOOK_ENTERED_WITH: 'in' })).toEqual(lab);
    expect(currentUserPlace({ RUNBOOK_SANDBOX: 'lab', RUNBOOK_ENTERED_WITH: 'shell' })).toEqual(shell);
    expect(currentUserPlace({ RUNBOOK_SANDBOX: 'one-shot-12', RUNBOOK_ENTERED_WITH: 'in' })).toEqual(oneShot);
    // An unknown way in gets the --in form: typed inside, it fails; it never acts outside.
    expect(currentUserPlace({ RUNBOOK_SANDBOX: 'lab' })).toEqual(lab);
    expect(
      currentUserPlace({
        RUNBOOK_SANDBOX: 'lab',
        RUNBOOK_ENTERED_WITH: 'in',
        RUNBOOK_OUTER_STATE_DIR: '/tmp/my state',
      }),
    ).toEqual(labElsewhere);
  });
});
