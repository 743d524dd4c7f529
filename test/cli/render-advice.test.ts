import { describe, expect, it } from 'vitest';
import {
  currentUserPlace,
  renderAdvice,
  userContextOf,
  type UserContext,
  type UserPlace,
} from '../../src/cli/render-advice.js';
import { advice, hostCommand, runbookCommand, sameCommandAsRoot, type Suggestion } from '../../src/suggestion.js';

const host: UserPlace = { kind: 'host' };
const lab: UserPlace = { kind: 'in', sandbox: 'lab', stateDir: undefined };
const labElsewhere: UserPlace = { kind: 'in', sandbox: 'lab', stateDir: '/tmp/my state' };
const shell: UserPlace = { kind: 'shell', sandbox: 'lab' };
const oneShot: UserPlace = { kind: 'one-shot' };

/** A root user at `place`, with the default state dir unless said otherwise. */
const user = (place: UserPlace, more: Partial<UserContext> = {}): UserContext => ({
  place,
  stateDir: { given: 'default' },
  isRoot: true,
  commandLine: [],
  invokedAs: 'runbook',
  ...more,
});
const render = (suggestion: Suggestion | string, place: UserPlace, more: Partial<UserContext> = {}) =>
  renderAdvice(typeof suggestion === 'string' ? hostCommand(suggestion) : suggestion, user(place, more));

describe('suggestions are rendered for where the user types them', () => {
  it('leaves commands alone on a plain host and in an interactive sandbox shell', () => {
    for (const place of [host, shell]) {
      expect(render(runbookCommand('resume', '2026'), place)).toBe('runbook resume 2026');
      expect(render('ip route add 172.16.0.0/24 dev veth1', place)).toBe('ip route add 172.16.0.0/24 dev veth1');
    }
  });

  it('puts --in NAME into runbook commands of a user outside the sandbox, after sudo, with an explicit --state-dir', () => {
    expect(render(runbookCommand('resume', '2026'), lab)).toBe('runbook --in lab resume 2026');
    expect(render({ ...runbookCommand('check', 'single-container'), asRoot: true }, lab, { isRoot: false })).toBe(
      'sudo runbook --in lab check single-container',
    );
    expect(render(runbookCommand('journal', '<run-id>', '--verify'), lab)).toBe(
      'runbook --in lab journal <run-id> --verify',
    );
    expect(render(runbookCommand('rollback', '2026'), labElsewhere)).toBe(
      "runbook --state-dir '/tmp/my state' --in lab rollback 2026",
    );
  });

  it('manages sandboxes from outside, without --in, and does not name a sandbox twice', () => {
    expect(render(runbookCommand('sandbox', 'destroy', 'lab'), labElsewhere)).toBe(
      "runbook --state-dir '/tmp/my state' sandbox destroy lab",
    );
    expect(render(runbookCommand('--in', 'lab', 'run', 'NAME'), lab)).toBe('runbook --in lab run NAME');
  });

  it('wraps a kernel command in `runbook sandbox shell NAME -c`, quoted for the shell', () => {
    expect(render('ip -n container1 route add default via 172.16.0.2 dev ceth1', lab)).toBe(
      "runbook sandbox shell lab -c 'ip -n container1 route add default via 172.16.0.2 dev ceth1'",
    );
    expect(render('sysctl -w net.ipv4.conf.all.arp_ignore=0', labElsewhere)).toBe(
      "runbook --state-dir '/tmp/my state' sandbox shell lab -c 'sysctl -w net.ipv4.conf.all.arp_ignore=0'",
    );
  });

  it("renders a runbook command in a runbook author's fix as one", () => {
    expect(render('runbook run single-container', lab)).toBe('runbook --in lab run single-container');
    expect(render('sudo runbook check single-container', lab)).toBe('sudo runbook --in lab check single-container');
  });

  it('places prose around commands inside the sandbox shell, where its commands work as written', () => {
    expect(render('ip netns add container1   (or: runbook run single-container)', lab)).toBe(
      'in `runbook sandbox shell lab`: ip netns add container1   (or: runbook run single-container)',
    );
  });

  it('never offers a kernel command for a one-shot sandbox host, which is gone', () => {
    expect(render('ip route add 172.16.0.0/24 dev veth1', oneShot)).toBe(
      'in the sandbox host, gone with this command: ip route add 172.16.0.0/24 dev veth1',
    );
    expect(render(runbookCommand('journal', '2026'), oneShot)).toBe('runbook journal 2026');
  });

  it('repeats a --state-dir the user gave, which a runbook command would otherwise miss', () => {
    const given = { stateDir: { path: '/srv/my state', given: 'option' as const } };
    expect(render(runbookCommand('resume', '2026'), host, given)).toBe(
      "runbook --state-dir '/srv/my state' resume 2026",
    );
    expect(render(runbookCommand('runs'), shell, given)).toBe("runbook --state-dir '/srv/my state' runs");
    // A kernel command does not read the state dir.
    expect(render('ip link', host, given)).toBe('ip link');
  });

  it('names a state dir from $RUNBOOK_STATE_DIR only for a new session, which may not have it', () => {
    const fromEnv = { stateDir: { path: '/srv/state', given: 'env' as const } };
    expect(render(runbookCommand('resume', '2026'), host, fromEnv)).toBe('runbook resume 2026');
    expect(render({ ...runbookCommand('confirm', '2026'), newSession: true }, host, fromEnv)).toBe(
      'runbook --state-dir /srv/state confirm 2026',
    );
    expect(render({ ...runbookCommand('confirm', '2026'), newSession: true }, host)).toBe('runbook confirm 2026');
  });

  it('confirms a run made in a sandbox shell from a new session through --in', () => {
    expect(render({ ...runbookCommand('confirm', '2026'), newSession: true }, shell)).toBe(
      'runbook --in lab confirm 2026',
    );
  });

  it('shows a command that needs root under sudo to a user who is not root, and only to them', () => {
    const check = { ...runbookCommand('check', 'single-container'), asRoot: true };
    expect(render(check, host, { isRoot: false })).toBe('sudo runbook check single-container');
    expect(render(check, host, { isRoot: true })).toBe('runbook check single-container');
  });

  it('offers the very command the user typed, under sudo, as they invoked runbook (issue 26)', () => {
    const typed = { commandLine: ['rollback', '--all'], isRoot: false };
    expect(render(sameCommandAsRoot(), host, typed)).toBe('sudo runbook rollback --all');
    expect(render(sameCommandAsRoot(), host, { ...typed, invokedAs: 'npx runbook' })).toBe(
      'sudo npx runbook rollback --all',
    );
    // sudo starts with a clean environment: a state dir from $RUNBOOK_STATE_DIR is named.
    expect(render(sameCommandAsRoot(), host, { ...typed, stateDir: { given: 'env', path: '/my state' } })).toBe(
      "sudo runbook --state-dir '/my state' rollback --all",
    );
    const given = { commandLine: ['--state-dir', '/s', 'run', "it's.yaml"], isRoot: false };
    expect(render(sameCommandAsRoot(), host, { ...given, stateDir: { given: 'option', path: '/s' } })).toBe(
      "sudo runbook --state-dir /s run 'it'\\''s.yaml'",
    );
    // Typed as --in lab …, from outside the sandbox: as typed.
    expect(render(sameCommandAsRoot(), host, { commandLine: ['--in', 'lab', 'runs'], isRoot: false })).toBe(
      'sudo runbook --in lab runs',
    );
    expect(render(sameCommandAsRoot(), host, { commandLine: ['resume'], isRoot: true })).toBe('runbook resume');
  });

  it('reads how runbook was invoked: npx says so in npm_command', () => {
    const npx = { npm_command: 'exec', npm_lifecycle_script: "'runbook'" };
    expect(userContextOf(undefined, npx, 1000, ['runs']).invokedAs).toBe('npx runbook');
    // What npx ran (a test runner) started runbook: not typed as npx runbook.
    const vitest = { npm_command: 'exec', npm_lifecycle_script: "'vitest'" };
    expect(userContextOf(undefined, vitest, 1000, ['runs']).invokedAs).toBe('runbook');
    expect(userContextOf(undefined, {}, 1000, ['runs'])).toMatchObject({ invokedAs: 'runbook', commandLine: ['runs'] });
  });

  it('renders advice: its words as written, each suggestion for the user', () => {
    const hint = advice`list them with: ${runbookCommand('runs')} (${3} of them)`;
    expect(renderAdvice(hint, user(lab))).toBe('list them with: runbook --in lab runs (3 of them)');
    expect(renderAdvice(hint, user(host))).toBe('list them with: runbook runs (3 of them)');
  });
});

describe('the user context is read once, from the process', () => {
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

  it('knows how the state dir was chosen, and whether the user is root', () => {
    expect(userContextOf('/a', {}, 1000)).toEqual({
      place: host,
      stateDir: { path: '/a', given: 'option' },
      isRoot: false,
      commandLine: [],
      invokedAs: 'runbook',
    });
    expect(userContextOf(undefined, { RUNBOOK_STATE_DIR: '/b' }, 0).stateDir).toEqual({ given: 'env', path: '/b' });
    expect(userContextOf(undefined, {}, 0)).toMatchObject({
      stateDir: { given: 'default' },
      isRoot: true,
    });
  });
});
