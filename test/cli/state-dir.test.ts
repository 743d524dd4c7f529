import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveStateDir, type StateDirFacts } from '../../src/cli/state-dir.js';
import { thrown } from '../helpers/thrown.js';
import { hintText } from '../helpers/advice.js';

/** An installed runbook (no checkout), run by an ordinary user with a plain environment. */
const user: StateDirFacts = { env: {}, uid: 1000, home: () => '/home/ada', checkout: undefined };
const root: StateDirFacts = { ...user, uid: 0, home: () => '/root' };

describe('the state dir', () => {
  it('--state-dir wins over everything, made absolute', () => {
    const facts = { ...root, env: { RUNBOOK_STATE_DIR: '/srv/rb' }, checkout: '/src/runbook' };
    expect(resolveStateDir('/tmp/s', facts)).toBe('/tmp/s');
    expect(resolveStateDir('rel/s', facts)).toBe(path.resolve('rel/s'));
  });

  it('then $RUNBOOK_STATE_DIR, over the checkout and the user defaults', () => {
    expect(resolveStateDir(undefined, { ...user, env: { RUNBOOK_STATE_DIR: '/srv/rb' }, checkout: '/src/rb' })).toBe(
      '/srv/rb',
    );
  });

  it('then state/ of the git checkout runbook runs from, for root and users alike', () => {
    expect(resolveStateDir(undefined, { ...root, checkout: '/src/runbook' })).toBe('/src/runbook/state');
    expect(resolveStateDir(undefined, { ...user, checkout: '/src/runbook' })).toBe('/src/runbook/state');
  });

  it('installed, for root: /var/lib/runbook, whatever XDG_STATE_HOME or HOME say', () => {
    expect(resolveStateDir(undefined, root)).toBe('/var/lib/runbook');
    expect(resolveStateDir(undefined, { ...root, env: { XDG_STATE_HOME: '/home/ada/.local/state' } })).toBe(
      '/var/lib/runbook',
    );
  });

  it('installed, for a user: $XDG_STATE_HOME/runbook, else ~/.local/state/runbook', () => {
    expect(resolveStateDir(undefined, { ...user, env: { XDG_STATE_HOME: '/xdg/state' } })).toBe('/xdg/state/runbook');
    expect(resolveStateDir(undefined, user)).toBe('/home/ada/.local/state/runbook');
  });

  it('an empty or relative XDG_STATE_HOME is ignored, as the XDG spec says', () => {
    expect(resolveStateDir(undefined, { ...user, env: { XDG_STATE_HOME: '' } })).toBe('/home/ada/.local/state/runbook');
    expect(resolveStateDir(undefined, { ...user, env: { XDG_STATE_HOME: 'state' } })).toBe(
      '/home/ada/.local/state/runbook',
    );
  });

  it('never inside an installed package: the default depends on no package path', () => {
    for (const facts of [root, user]) expect(resolveStateDir(undefined, facts)).not.toContain('node_modules');
  });

  it('an empty --state-dir is refused with exit 2 (it would silently mean the current directory)', () => {
    for (const empty of ['', ' ']) {
      const error = thrown(() => resolveStateDir(empty, user));
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain('--state-dir is empty');
      expect(error.message).toContain('nothing was changed');
    }
  });

  it('an empty $RUNBOOK_STATE_DIR is refused too, rather than falling back to a default', () => {
    const error = thrown(() => resolveStateDir(undefined, { ...root, env: { RUNBOOK_STATE_DIR: '' } }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('RUNBOOK_STATE_DIR is empty');
    expect(hintText(error)).toContain('unset RUNBOOK_STATE_DIR');
  });
});
