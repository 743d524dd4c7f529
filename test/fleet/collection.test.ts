import { execa } from 'execa';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxHost } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { collectionName, collectionSource, collectionVersion } from './fleet-hosts.js';

/**
 * The runbook Ansible collection as an operator gets it (issue 24, item 3): built and installed
 * with ansible-galaxy, offline; its module documented for ansible-doc (attributes, every return
 * value); and `ansible-test sanity --test validate-modules` on it.
 *
 * ansible-test runs each sanity test in a virtualenv of its own, into which it installs pinned
 * requirements with a pip it downloads (ci-files.testing.ansible.com, then PyPI): neither is
 * reachable here. So the test runs it inside a network namespace with no network at all (nothing
 * leaves, the download fails at once), learns from its message where it wants the virtualenv,
 * makes that virtualenv itself with Debian's packages (python3-voluptuous, jinja2, yaml: the
 * system site packages) and marks it ready, and runs ansible-test again. validate-modules then
 * runs as ansible-test runs it, with Debian's voluptuous 0.12.2 instead of its pinned 0.13.1.
 */

const fqcn = `${collectionName}.runbook`;
/** Debian's python, which has ansible and voluptuous (not a pyenv one earlier on PATH). */
const systemPath = '/usr/sbin:/usr/bin:/sbin:/bin';

let dir: string;
let installed: string;
let offline: SandboxHost;

beforeAll(async () => {
  dir = tempDir('runbook-collection-');
  installed = path.join(dir, 'collections');
  offline = await SandboxHost.create({ setUp: false });
});

afterAll(() => {
  offline?.dispose();
  removeDir(dir);
});

function ansibleEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: systemPath, HOME: dir, LC_ALL: 'C.UTF-8', ANSIBLE_NOCOLOR: '1', ...extra };
}

describe('the runbook_project.runbook collection', { timeout: 180_000 }, () => {
  it('ansible-galaxy builds it and installs it with --offline, in a host with no network at all', async () => {
    const build = await offline.exec(
      ['ansible-galaxy', 'collection', 'build', collectionSource, '--output-path', dir, '--force'],
      { env: ansibleEnv() },
    );
    expect(build.exitCode, build.stderr).toBe(0);
    const tarball = path.join(dir, `${collectionName.replace('.', '-')}-${collectionVersion}.tar.gz`);
    expect(build.stdout).toContain(`Created collection for ${collectionName} at ${tarball}`);
    const install = await offline.exec(
      ['ansible-galaxy', 'collection', 'install', '--offline', tarball, '-p', installed],
      { env: ansibleEnv() },
    );
    expect(install.exitCode, install.stderr).toBe(0);
    expect(install.stdout).toContain(`${collectionName}:${collectionVersion} was installed successfully`);
    const listed = await execa('ansible-galaxy', ['collection', 'list', '-p', installed, '--format', 'json'], {
      env: ansibleEnv({ ANSIBLE_COLLECTIONS_PATH: installed }),
      extendEnv: false,
    });
    expect(JSON.stringify(JSON.parse(listed.stdout))).toContain(
      `"${collectionName}":{"version":"${collectionVersion}"}`,
    );
  });

  it('ansible-doc renders the module by its FQCN: check mode, diff mode and platform attributes, examples by FQCN, every return value', async () => {
    const env = ansibleEnv({ ANSIBLE_COLLECTIONS_PATH: installed });
    const text = await execa('ansible-doc', [fqcn], { env, extendEnv: false });
    expect(text.stdout).toContain(`> ${fqcn.toUpperCase()}`);
    const json = await execa('ansible-doc', ['--json', fqcn], { env, extendEnv: false });
    const doc = (JSON.parse(json.stdout) as Record<string, Record<string, unknown>>)[fqcn] as {
      doc: { attributes: Record<string, { support: string; platforms?: string }>; options: Record<string, unknown> };
      examples: string;
      return: Record<string, unknown>;
    };
    expect(doc.doc.attributes).toMatchObject({
      check_mode: { support: 'full' },
      diff_mode: { support: 'full' },
      platform: { support: 'full', platforms: 'posix' },
    });
    expect(Object.keys(doc.doc.options).sort()).toEqual(
      [
        'confirm_within',
        'executable',
        'keep_runs',
        'name',
        'params',
        'replace',
        'rollback_on_failure',
        'state',
        'state_dir',
      ].sort(),
    );
    // Every key the module returns (plugins/modules/runbook.py), and nothing it does not.
    expect(Object.keys(doc.return).sort()).toEqual(
      [
        'awaiting_confirmation',
        'changed_steps',
        'commands',
        'confirmed',
        'extended',
        'failure',
        'msg',
        'pruned',
        'rc',
        'replaced',
        'resumed',
        'rolled_back',
        'run_id',
        'status',
        'stderr',
        'steps',
        'would_fail',
        'would_replace',
      ].sort(),
    );
    for (const task of doc.examples.matchAll(/^- name: .*\n {2}([a-z_.]+):/gm))
      expect(task[1]).toMatch(/^[a-z_]+\.[a-z_]+\.[a-z_]+$/);
  });

  it('ansible-test sanity --test validate-modules passes, offline', async () => {
    const root = path.join(installed, 'ansible_collections', 'runbook_project', 'runbook');
    const sanity = ['bash', '-c', `cd ${root} && exec ansible-test sanity --test validate-modules --python 3.11`];
    const env = ansibleEnv();
    // First, to learn where it wants its virtualenv: it cannot fetch pip with no network.
    const first = await offline.exec(sanity, { env });
    const venv = /Python 3\.11 at "(.+)\/bin\/python" does not have pip available/.exec(
      first.stdout + first.stderr,
    )?.[1];
    expect(venv, first.stdout + first.stderr).toBeDefined();
    removeDir(venv);
    const made = await execa(
      '/usr/bin/python3',
      ['-m', 'venv', '--system-site-packages', '--without-pip', venv as string],
      {
        reject: false,
      },
    );
    expect(made.exitCode, made.stderr).toBe(0);
    mkdirSync(venv as string, { recursive: true });
    writeFileSync(path.join(venv as string, 'meta.install.json'), '[]\n');
    writeFileSync(path.join(venv as string, 'meta.yaml.json'), 'null\n');
    writeFileSync(path.join(venv as string, 'marker.txt'), '');

    const result = await offline.exec(sanity, { env });
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('Running sanity test "validate-modules"');
    expect(result.stdout + result.stderr).not.toMatch(/ERROR/);
  });
});
