import { execa } from 'execa';
import { readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { asRootWithPrivateVarLib, cleanEnv } from '../helpers/installed.js';
import { SandboxHost } from '../helpers/sandbox-host.js';

/**
 * The one-file bundle (issue 13): dist/runbook.mjs alone in an empty directory, no
 * node_modules and no package around it, lists and runs the shipped runbooks, which it embeds.
 */
const checkout = path.resolve(import.meta.dirname, '../..');
const { version } = JSON.parse(readFileSync(path.join(checkout, 'package.json'), 'utf8')) as { version: string };
const engineVersion = version;

let dir: string;
let bundle: string;
beforeAll(async () => {
  dir = tempDir('runbook-bundle-');
  bundle = path.join(dir, 'runbook.mjs');
  // What `npm run bundle` runs after the build (the tests run on a built dist/), written straight
  // into the empty directory.
  await execa(process.execPath, [path.join(checkout, 'scripts', 'bundle.mjs'), bundle]);
}, 120_000);
afterAll(() => removeDir(dir));

const inEmptyDir = (argv: string[], env: Record<string, string> = {}) =>
  execa(argv[0]!, argv.slice(1), { cwd: dir, env: cleanEnv({ HOME: dir, ...env }), reject: false });

describe('dist/runbook.mjs, alone in an empty directory', () => {
  it('is one executable file with a shebang', () => {
    expect(readdirSync(dir)).toEqual(['runbook.mjs']);
    expect(readFileSync(bundle, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    expect(statSync(bundle).mode & 0o111).toBe(0o111);
  });

  it('runs as ./runbook.mjs and as node runbook.mjs: --version, list, show of an embedded runbook', async () => {
    expect((await inEmptyDir(['./runbook.mjs', '--version'])).stdout).toBe(version);
    const list = await inEmptyDir([process.execPath, 'runbook.mjs', 'list']);
    expect(list.stderr).toBe('');
    expect(list.stdout).toMatch(
      /^cni-bridge .*\ncni-bridge-network .*\ncontainer-internet .*\nforward-filter .*\nmulti-container .*\nsingle-container /,
    );
    const show = await inEmptyDir(['./runbook.mjs', 'show', 'container-internet']);
    expect(show.exitCode).toBe(0);
    expect(show.stdout).toContain('file: bundled:runbooks/container-internet.yaml');
    // container-internet includes multi-container: the include is found in the bundle too.
    expect(show.stdout).toContain('bridge');
  });

  it("installed under the name runbook-cni, is the CNI plugin (docs/cni.md): VERSION, and the spec's errors", async () => {
    const plugins = tempDir('runbook-cni-bin-');
    try {
      const plugin = path.join(plugins, 'runbook-cni');
      symlinkSync(bundle, plugin);
      const call = (env: Record<string, string>, input: string) =>
        execa(plugin, [], { cwd: dir, env: cleanEnv({ HOME: dir, ...env }), input, reject: false });
      const version = await call({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}');
      expect([version.exitCode, version.stderr]).toEqual([0, '']);
      expect(JSON.parse(version.stdout)).toEqual({ cniVersion: '0.4.0', supportedVersions: ['0.4.0', '1.0.0'] });
      const bad = await call({ CNI_COMMAND: 'ADD', CNI_IFNAME: 'eth0', CNI_NETNS: '/run/netns/x' }, '{}');
      expect(bad.exitCode).toBe(1);
      expect(JSON.parse(bad.stdout)).toMatchObject({ code: 4, msg: expect.stringContaining('CNI_CONTAINERID') });
    } finally {
      removeDir(plugins);
    }
  });

  it('as root: run single-container --sandbox succeeds, recorded in /var/lib/runbook, pino logging bundled', async () => {
    const varLib = tempDir('runbook-varlib-');
    try {
      const run = await asRootWithPrivateVarLib(varLib, [bundle, '--verbose', 'run', 'single-container', '--sandbox'], {
        cwd: dir,
        env: cleanEnv({ HOME: dir }),
      });
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toMatch(/run \S+ succeeded: 8 step\(s\) changed/);
      // --verbose: one pino line (NDJSON, level debug) per command, through the bundled pino.
      const logged = run.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string });
      expect(logged.length).toBeGreaterThan(10);
      expect(logged.every((l) => l.level === 20)).toBe(true);
      // Besides, where the plan came from: parsed by the command, read back from the plan cache by
      // the process it re-executed in the sandbox host.
      expect(logged.filter((l) => l.msg !== 'command').map((l) => l.msg)).toEqual([
        'runbook parsed and validated',
        'plan read from <state-dir>/plans',
      ]);
      const verify = await asRootWithPrivateVarLib(varLib, [bundle, 'journal', 'latest', '--verify'], { cwd: dir });
      expect(verify.stdout).toMatch(/is intact/);
      const journals = readdirSync(path.join(varLib, 'runbook', 'runs')).filter((f) => f.endsWith('.ndjson'));
      expect(journals).toHaveLength(1);
      const start = JSON.parse(
        readFileSync(path.join(varLib, 'runbook', 'runs', journals[0]!), 'utf8').split('\n')[0]!,
      );
      expect(start).toMatchObject({ runbookFile: 'bundled:runbooks/single-container.yaml', engineVersion: version });
      expect(readdirSync(dir)).toEqual(['runbook.mjs']); // nothing written beside the bundle
    } finally {
      removeDir(varLib);
    }
  });

  // As the README installs it: `sudo install -m 755 dist/runbook.mjs /usr/local/bin/runbook`, no
  // extension, no package.json around it, started through its shebang by the node on PATH. Node
  // runs such a file as an ES module only from 20.19 and 22.12 (module syntax detection): CI runs
  // this on exactly the lowest versions package.json's `engines` claims (.ci/run, issue 26).
  it(`installed extensionless and found on PATH, it runs on this node (${process.version}): --version, list, run --sandbox`, async () => {
    const bin = tempDir('runbook-bin-');
    const varLib = tempDir('runbook-varlib-');
    try {
      await execa('install', ['-m', '755', bundle, path.join(bin, 'runbook')]);
      const env = { ...cleanEnv({ HOME: dir }), PATH: `${bin}:${cleanEnv().PATH}` };
      const version = await execa('runbook', ['--version'], { cwd: dir, env, reject: false });
      expect(version.stderr).toBe('');
      expect(version.stdout).toBe(engineVersion);
      const list = await execa('runbook', ['list'], { cwd: dir, env, reject: false });
      expect(list.stderr).toBe('');
      expect(list.stdout).toMatch(/^single-container /m);
      const run = await asRootWithPrivateVarLib(varLib, ['runbook', 'run', 'single-container', '--sandbox'], {
        cwd: dir,
        env,
      });
      expect(run.stderr).toBe('');
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toMatch(/run \S+ succeeded: 8 step\(s\) changed/);
    } finally {
      removeDir(bin);
      removeDir(varLib);
    }
  });

  it('resumes and rolls back a run of an embedded runbook (its file is bundled:runbooks/…, not on disk)', async () => {
    const host = await SandboxHost.create();
    const stateDir = tempDir('runbook-bundle-state-');
    try {
      const bundled = (...args: string[]) =>
        host.exec([process.execPath, bundle, '--state-dir', stateDir, ...args], { env: cleanEnv() });
      const stopped = await bundled('run', 'single-container', '--until', 'host-route');
      expect(stopped.stdout).toContain('stopped after step host-route');
      const resumed = await bundled('resume');
      expect(resumed.stderr).toBe('');
      expect(resumed.exitCode).toBe(0);
      expect(resumed.stdout).toMatch(/resumed and succeeded/);
      expect(((await host.ipJson(['netns', 'list'])) as Array<{ name: string }>).map((n) => n.name)).toContain(
        'container1',
      );
      const rolledBack = await bundled('rollback');
      expect(rolledBack.exitCode).toBe(0);
      const namespaces = ((await host.ipJson(['netns', 'list'])) as Array<{ name: string }>).map((n) => n.name);
      expect(namespaces).not.toContain('container1');
    } finally {
      host.dispose();
      removeDir(stateDir);
    }
  });
});
