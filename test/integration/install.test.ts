import { execa } from 'execa';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { asRootWithPrivateVarLib, cleanCopyOfCheckout, cleanEnv, filesUnder, openToAll } from '../helpers/installed.js';

/**
 * Installed as a new user would install it (issue 13): `npm pack` of a clean copy of the
 * checkout (prepack builds dist/), `npm install -g` into a fresh prefix, then the `runbook` on
 * that prefix's bin/ used from another directory. Root's runs land in /var/lib/runbook (a private
 * bind mount here, see asRootWithPrivateVarLib); an ordinary user's in ~/.local/state/runbook.
 */
const checkout = path.resolve(import.meta.dirname, '../..');
const { version } = JSON.parse(readFileSync(path.join(checkout, 'package.json'), 'utf8')) as { version: string };

let work: string;
let tarball: string;
let runbookBin: string;
let packageDir: string;
let elsewhere: string;

beforeAll(async () => {
  work = tempDir('runbook-install-');
  openToAll(work);
  const clone = path.join(work, 'clone');
  await cleanCopyOfCheckout(checkout, clone);
  // The locked dependencies npm ci installed: packing needs the build tools, not a download.
  symlinkSync(path.join(checkout, 'node_modules'), path.join(clone, 'node_modules'));
  const packed = await execa('npm', ['pack', '--pack-destination', work], {
    cwd: clone,
    env: cleanEnv({ HOME: work }),
  });
  tarball = path.join(work, packed.stdout.trim().split('\n').at(-1)!);
  const prefix = path.join(work, 'prefix');
  // From npm's cache where it can (npm ci filled it); the registry otherwise.
  await execa(
    'npm',
    ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball],
    { cwd: work, env: cleanEnv({ HOME: process.env.HOME ?? work }) },
  );
  runbookBin = path.join(prefix, 'bin', 'runbook');
  packageDir = path.join(prefix, 'lib', 'node_modules', 'runbook');
  elsewhere = path.join(work, 'elsewhere');
  mkdirSync(elsewhere);
}, 180_000);
afterAll(() => removeDir(work));

describe('npm pack', () => {
  it('ships what runs (dist/, bin/, runbooks/, docs, README) and nothing else', async () => {
    const { stdout } = await execa('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').map((f) => f.replace(/^package\//, ''));
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'bin/runbook.js',
        'dist/cli/main.js',
        'dist/runbook/load.js',
        'runbooks/single-container.yaml',
        'docs/runbook-format.md',
      ]),
    );
    const unwanted = files.filter((f) =>
      /^(src|test|bench|scripts|state|\.ci|node_modules)\/|\.map$|^dist\/runbook\.mjs$|^Vagrantfile$/.test(f),
    );
    expect(unwanted).toEqual([]);
  });
});

describe('npm install -g of the tarball, used from another directory', () => {
  const runbook = (args: string[], env: Record<string, string> = {}) =>
    execa(runbookBin, args, { cwd: elsewhere, env: cleanEnv({ HOME: work, ...env }), reject: false });

  it('--version and list work, with no checkout and no dist/ of the checkout around', async () => {
    expect((await runbook(['--version'])).stdout).toBe(version);
    const list = await runbook(['list']);
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toMatch(
      /^cni-bridge .*\ncni-bridge-network .*\ncontainer-internet .*\nforward-filter .*\nmulti-container .*\nsingle-container /,
    );
  });

  it('as root: run --sandbox records in /var/lib/runbook, runs shows it, nothing is written in the package', async () => {
    const varLib = tempDir('runbook-varlib-');
    try {
      const packageBefore = filesUnder(packageDir).filter((f) => !f.includes('.cache/'));
      const env = cleanEnv({ HOME: work });
      const run = await asRootWithPrivateVarLib(varLib, [runbookBin, 'run', 'single-container', '--sandbox'], {
        cwd: elsewhere,
        env,
      });
      expect(run.stderr).toBe('');
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toMatch(/run \S+ succeeded: 8 step\(s\) changed/);
      const recorded = readdirSync(path.join(varLib, 'runbook', 'runs'));
      expect(recorded.filter((f) => f.endsWith('.ndjson'))).toHaveLength(1);
      const runs = await asRootWithPrivateVarLib(varLib, [runbookBin, 'runs'], { cwd: elsewhere, env });
      expect(runs.stdout).toMatch(/single-container\s+succeeded/);
      // Only the compile cache (Node >= 22.1, kept with the code) may appear inside the package.
      expect(filesUnder(packageDir).filter((f) => !f.includes('.cache/'))).toEqual(packageBefore);
      expect(existsSync(path.join(packageDir, 'state'))).toBe(false);
    } finally {
      removeDir(varLib);
    }
  });

  it('a runbook in ./runbooks is listed with where it comes from, and runs by name', async () => {
    const own = path.join(elsewhere, 'runbooks');
    mkdirSync(own, { mode: 0o755 });
    writeFileSync(
      path.join(own, 'hello.yaml'),
      'name: hello\ndescription: my own runbook\nsteps:\n  - { id: say, title: Check true, why: a demo, verify: [{ run: ["true"] }] }\n',
    );
    const list = await runbook(['list']);
    expect(list.stdout).toContain(`hello                my own runbook  [./runbooks: ${path.join(own, 'hello.yaml')}]`);
    const varLib = tempDir('runbook-varlib-');
    try {
      const run = await asRootWithPrivateVarLib(varLib, [runbookBin, 'run', 'hello', '--sandbox'], {
        cwd: elsewhere,
        env: cleanEnv({ HOME: work }),
      });
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toContain('ok       say');
    } finally {
      removeDir(varLib);
      removeDir(own);
    }
  });

  it('as an ordinary user: the state dir is $XDG_STATE_HOME/runbook, else ~/.local/state/runbook', async () => {
    const home = path.join(work, 'home-nobody');
    mkdirSync(home);
    const asNobody = (env: Record<string, string>) =>
      execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', runbookBin, 'runs'], {
        cwd: elsewhere,
        env: cleanEnv({ HOME: home, ...env }),
        reject: false,
      });
    expect((await asNobody({})).stdout).toBe(`no runs recorded in ${home}/.local/state/runbook`);
    expect((await asNobody({ XDG_STATE_HOME: '/xdg/state' })).stdout).toBe('no runs recorded in /xdg/state/runbook');
    const empty = await asNobody({ RUNBOOK_STATE_DIR: '' });
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toContain('RUNBOOK_STATE_DIR is empty');
  });

  it('--state-dir "" is refused: exit 2, nothing done', async () => {
    const result = await runbook(['--state-dir', '', 'runs']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--state-dir is empty');
    expect(result.stdout).toBe('');
  });
});
