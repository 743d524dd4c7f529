import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fleet, repoRoot } from './fleet-hosts.js';

/**
 * ansible/install.yml over real SSH (issue 14): the one-file bundle of issue 13
 * (scripts/bundle.mjs) installed on two sandbox hosts, each into its own prefix (the hosts share
 * this machine's file system), then used by the runbook module through the installed `runbook`
 * command, with a runbook of one's own found on the wrapper's RUNBOOK_PATH.
 */

/**
 * The heaviest tests of the suite: a fleet made, a bundle built, then a playbook that copies it
 * to each host and the module run through it, each step Python and Node.js started afresh over
 * SSH. With the 2 cores busy, a test took more than the 180 s the other fleet tests get. Each
 * Ansible command keeps its own bound (fleet-hosts.ts, 300 s): this only keeps a slow machine
 * from failing a test that would pass, and asserts nothing about time.
 */
const heavy = 600_000;

let fleet: Fleet;
let bundle: string;
const install = path.join(repoRoot, 'ansible', 'install.yml');

beforeAll(async () => {
  fleet = await Fleet.create(2);
  bundle = path.join(fleet.dir, 'runbook.mjs');
  const built = await execa(process.execPath, [path.join(repoRoot, 'scripts', 'bundle.mjs'), bundle], {
    reject: false,
  });
  if (built.exitCode !== 0) throw new Error(`bundle failed: ${built.stderr}`);
}, heavy);

afterAll(async () => {
  await fleet?.dispose();
});

/** Each host's own prefix, templated per host by Ansible. */
const perHost = (what: string) => `${'{{'} fleet_dir ${'}}'}/${'{{'} inventory_hostname ${'}}'}/${what}`;

function installVars(extra: Record<string, unknown> = {}): string[] {
  return [
    '-e',
    JSON.stringify({
      fleet_dir: fleet.dir,
      runbook_bundle: bundle,
      runbook_prefix: perHost('opt'),
      runbook_bin_dir: perHost('bin'),
      runbook_runbooks_dir: perHost('runbooks'),
      ...extra,
    }),
  ];
}

describe('ansible/install.yml', { timeout: heavy }, () => {
  it('refuses a target whose Node.js is older than 20, saying so, and installs nothing', async () => {
    const oldNode = path.join(fleet.dir, 'node18');
    writeFileSync(oldNode, '#!/bin/sh\necho v18.19.0\n', { mode: 0o755 });
    const result = await fleet.ansible([
      'ansible-playbook',
      '-i',
      fleet.inventory,
      install,
      ...installVars({ runbook_node: oldNode }),
    ]);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toContain('runbook needs Node.js 20 or newer on host1');
    expect(result.stdout).toContain('gave v18.19.0');
    expect(existsSync(path.join(fleet.dir, 'host1', 'bin', 'runbook'))).toBe(false);
  });

  it('installs the bundle and a runbook command on each host; the module runs a runbook of one’s own through it', async () => {
    const mine = path.join(fleet.dir, 'my-container.yaml');
    writeFileSync(
      mine,
      readFileSync(path.join(repoRoot, 'runbooks', 'single-container.yaml'), 'utf8').replace(
        /^name: single-container$/m,
        'name: my-container',
      ),
    );
    const result = await fleet.ansible([
      'ansible-playbook',
      '-i',
      fleet.inventory,
      install,
      ...installVars({ runbook_runbooks: [mine] }),
    ]);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    for (const host of fleet.hosts) {
      const bin = path.join(fleet.dir, host.name, 'bin', 'runbook');
      expect(readFileSync(path.join(fleet.dir, host.name, 'opt', 'runbook.mjs'))).toEqual(readFileSync(bundle));
      expect(existsSync(path.join(fleet.dir, host.name, 'runbooks', 'my-container.yaml'))).toBe(true);
      const listed = await fleet.onHost(host, [bin, 'list']);
      expect(listed.stdout).toContain('my-container');
      expect(listed.stdout).toContain('single-container');
    }

    const apply = await fleet.ansible([
      'ansible',
      'fleet',
      '-i',
      fleet.inventory,
      '-m',
      'runbook_project.runbook.runbook',
      '-a',
      JSON.stringify({
        name: 'my-container',
        executable: perHost('bin/runbook'),
        state_dir: '{{ runbook_state_dir }}',
      }),
      '-e',
      JSON.stringify({ fleet_dir: fleet.dir }),
    ]);
    expect(apply.exitCode, apply.stdout + apply.stderr).toBe(0);
    expect(apply.stdout.match(/\| CHANGED =>/g)).toHaveLength(2);
    for (const host of fleet.hosts) {
      const namespaces = await fleet.onHost(host, ['ip', '-j', 'netns', 'list']);
      expect(namespaces.stdout).toContain('container1');
    }
  });
});
