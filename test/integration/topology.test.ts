import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockFile, runsDir } from '../../src/journal/paths.js';
import type { Topology } from '../../src/topology/model.js';
import { SandboxHost, type ExecResult } from '../helpers/sandbox-host.js';
import { tempDirsRemovedAfterAll } from '../helpers/temp-dir.js';
import { onlyRunId } from '../helpers/cli-harness.js';

/**
 * `runbook topology` (issue 29) against real kernels, inside throwaway sandbox hosts: what it
 * draws after a run, after a rollback, and that drawing changes nothing.
 */

const tempDir = tempDirsRemovedAfterAll('runbook-topology-');

function expectExit(result: ExecResult, code: number): void {
  if (result.exitCode !== code) expect(`${result.stdout}\n${result.stderr}`).toBe(`exit ${code}`);
}

/** The DOT statement (node or edge) that defines `id`, on its one line. */
function statement(dot: string, start: string): string {
  const line = dot.split('\n').find((l) => l.trimStart().startsWith(start));
  if (line === undefined) throw new Error(`no statement starting with ${start} in:\n${dot}`);
  return line;
}

describe('topology after single-container, and after its rollback', () => {
  let host: SandboxHost;
  let stateDir: string;
  let runId: string;
  const env = () => ({ RUNBOOK_STATE_DIR: stateDir });

  beforeAll(async () => {
    host = await SandboxHost.create();
    stateDir = tempDir();
    expectExit(await host.runbook(['run', 'single-container', '--set', 'ping_deadline=1'], { env: env() }), 0);
    runId = onlyRunId(stateDir);
  });
  afterAll(() => host?.dispose());

  it('names container1, veth1, ceth1 and 172.16.0.2/24, and the cable between host and container1, each made by that run', async () => {
    const result = await host.runbook(['topology', '--format', 'dot'], { env: env() });
    expectExit(result, 0);
    const dot = result.stdout;
    const made = `made by run ${runId} of runbook single-container`;
    expect(statement(dot, 'subgraph "cluster netns:container1"')).toBeDefined();
    expect(dot).toContain(`tooltip="namespace container1: ${made}"`);
    expect(statement(dot, '"host/link/veth1" [')).toContain(`tooltip="veth1: ${made}"`);
    const ceth1 = statement(dot, '"netns:container1/link/ceth1" [');
    expect(ceth1).toContain(`tooltip="ceth1: ${made}"`);
    // The address, in ceth1's table, with its own mark; r1 is that run in the legend.
    expect(ceth1).toMatch(/>172\.16\.0\.2\/24<\/FONT><\/TD><TD[^>]*><FONT[^>]*>made r1</);
    expect(statement(dot, 'legend [')).toContain(`run ${runId} of single-container (succeeded)`);
    expect(statement(dot, 'legend [')).toMatch(/>r1<\/TD><TD[^>]*>run /);
    const cable = statement(dot, '"host/link/veth1" -> "netns:container1/link/ceth1"');
    expect(cable).toContain('label="veth\\nmade r1"');
    expect(cable).toContain(`tooltip="veth pair veth1 – ceth1: ${made}"`);
  });

  it('says the same in --json: the veth edge between host and container1 and who made each end', async () => {
    const result = await host.runbook(['topology', '--json'], { env: env() });
    expectExit(result, 0);
    const topology = JSON.parse(result.stdout) as Topology;
    const made = { kind: 'made', run: { id: runId, runbook: 'single-container', status: 'succeeded' } };
    expect(topology.edges).toContainEqual({
      kind: 'veth',
      from: { namespace: 'host', link: 'veth1' },
      to: { namespace: 'netns:container1', link: 'ceth1' },
      provenance: made,
    });
    const container1 = topology.namespaces.find((ns) => ns.id === 'netns:container1');
    expect(container1?.provenance).toEqual(made);
    expect(container1?.links.find((l) => l.name === 'ceth1')?.addresses).toContainEqual({
      address: '172.16.0.2/24',
      family: 'inet',
      provenance: made,
    });
    // What was there before the run is nobody's here.
    const enp0s8 = topology.namespaces[0]?.links.find((l) => l.name === 'enp0s8');
    expect(enp0s8?.provenance).toEqual({ kind: 'unknown' });
    expect(enp0s8?.peer).toEqual({ namespace: 'netns:lan', link: 'lan0' });
  });

  it('changes nothing: not the kernel, not the state dir (no lock, no audit line, no run)', async () => {
    const before = await host.snapshot();
    const files = () => readdirSync(stateDir).sort();
    const runsBefore = readdirSync(runsDir(stateDir)).sort();
    const filesBefore = files();
    for (const format of ['text', 'mermaid', 'dot', 'svg'])
      expectExit(await host.runbook(['topology', '--format', format], { env: env() }), 0);
    expect(await host.snapshot()).toEqual(before);
    expect(files()).toEqual(filesBefore);
    expect(readdirSync(runsDir(stateDir)).sort()).toEqual(runsBefore);
    expect(existsSync(lockFile(stateDir))).toBe(filesBefore.includes('lock'));
  });

  it('--format svg gives a picture that converts to a PNG image', async () => {
    const result = await host.runbook(['topology', '--format', 'svg'], { env: env() });
    expectExit(result, 0);
    expect(result.stdout).toMatch(/^<\?xml[^]*<svg[^]*<\/svg>\s*$/);
    const dir = tempDir();
    writeFileSync(path.join(dir, 'topology.svg'), result.stdout);
    // rsvg-convert (librsvg2-bin, installed by scripts/install-system-packages.sh) parses it as
    // an image and renders it: a file that is not a valid SVG fails here.
    await execa('rsvg-convert', [
      '--format',
      'png',
      '--output',
      path.join(dir, 'topology.png'),
      path.join(dir, 'topology.svg'),
    ]);
    const png = readFileSync(path.join(dir, 'topology.png'));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    // Width and height (IHDR): a picture of some size, not an empty canvas.
    expect(png.readUInt32BE(16)).toBeGreaterThan(300);
    expect(png.readUInt32BE(20)).toBeGreaterThan(300);
  });

  it('--format svg without Graphviz says so and exits 2, printing nothing on stdout', async () => {
    // A PATH with everything topology reads with (ip, iptables) but no dot (and nsenter, with
    // which the test enters the sandbox host).
    const bin = tempDir();
    for (const program of ['ip', 'iptables', 'nsenter']) {
      const found = (await execa('sh', ['-c', `command -v ${program}`])).stdout.trim();
      symlinkSync(found, path.join(bin, program));
    }
    const result = await host.runbook(['topology', '--format', 'svg'], { env: { ...env(), PATH: bin } });
    expectExit(result, 2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('dot (Debian package graphviz)');
    expect(result.stderr).toContain('apt-get install graphviz');
    // The other formats need no Graphviz.
    expectExit(await host.runbook(['topology', '--format', 'dot'], { env: { ...env(), PATH: bin } }), 0);
  });

  it('refuses --json with another --format, and an unknown --run, with exit 2', async () => {
    expectExit(await host.runbook(['topology', '--json', '--format', 'dot'], { env: env() }), 2);
    const unknownRun = await host.runbook(['topology', '--run', 'no-such-run'], { env: env() });
    expectExit(unknownRun, 2);
    expect(unknownRun.stderr).toContain('no run "no-such-run"');
  });

  it('after rollback, none of them appear', async () => {
    expectExit(await host.runbook(['rollback'], { env: env() }), 0);
    const result = await host.runbook(['topology', '--format', 'dot'], { env: env() });
    expectExit(result, 0);
    for (const gone of ['container1', 'veth1', 'ceth1', '172.16.0.2/24', runId])
      expect(result.stdout).not.toContain(gone);
    expect(result.stdout).toContain('"host/link/enp0s8"');
    const text = await host.runbook(['topology'], { env: env() });
    expect(text.stdout).toContain('no run recorded in this state dir made or found anything drawn here');
  });
});

describe('topology of multi-container with count=3 (and part 3 on top)', () => {
  let host: SandboxHost;
  let stateDir: string;
  let runId: string;
  const env = () => ({ RUNBOOK_STATE_DIR: stateDir });

  beforeAll(async () => {
    host = await SandboxHost.create();
    stateDir = tempDir();
    // container2 is there before the run: the run finds it in place.
    expect((await host.exec(['ip', 'netns', 'add', 'container2'])).exitCode).toBe(0);
    const run = await host.runbook(
      ['run', 'container-internet', '--set', 'count=3', '--set', 'internet_ip=198.51.100.1'],
      { env: env() },
    );
    expectExit(run, 0);
    runId = onlyRunId(stateDir);
  });
  afterAll(() => host?.dispose());

  it('draws it as text that fits 80 columns', async () => {
    const result = await host.runbook(['topology'], { env: env() });
    expectExit(result, 0);
    const lines = result.stdout.split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80);
    for (const n of [1, 2, 3]) {
      expect(result.stdout).toMatch(new RegExp(`^├─ veth${n} +veth UP, peer ceth${n} in container${n} +made r1$`, 'm'));
      expect(result.stdout).toMatch(new RegExp(`^│  └─ port of br0 +made r1$`, 'm'));
      expect(result.stdout).toMatch(new RegExp(`^│  └─ 172\\.16\\.0\\.${n + 1}/24 +made r1$`, 'm'));
    }
    expect(result.stdout).toMatch(/^├─ br0 +bridge UP +made r1$/m);
    expect(result.stdout).toMatch(/^ {3}├─ ip_forward 1 +made r1$/m);
    expect(result.stdout).toMatch(/^ {3}├─ nat POSTROUTING -s 172\.16\.0\.0\/24 -j MASQUERADE +made r1$/m);
    expect(result.stdout).toContain(`r1 = run ${runId} of container-internet (succeeded)`);
  });

  it('marks what the run found in place as found, not made', async () => {
    const result = await host.runbook(['topology'], { env: env() });
    expect(result.stdout).toMatch(/^namespace container2 +found r1$/m);
    expect(result.stdout).toMatch(/^namespace container1 +made r1$/m);
  });

  it("--run highlights the run's objects and leaves the rest as they are", async () => {
    const result = await host.runbook(['topology', '--run', 'latest'], { env: env() });
    expectExit(result, 0);
    expect(result.stdout).toMatch(/^namespace container1 +\*made r1$/m);
    expect(result.stdout).toMatch(/^namespace container2 +\*found r1$/m);
    expect(result.stdout).toMatch(/^├─ enp0s8 +veth UP, peer lan0 in lan +unknown$/m);
    expect(result.stdout).toContain(`*: made or found by run ${runId} (--run)`);
    const dot = await host.runbook(['topology', '--format', 'dot', '--run', runId.slice(0, 12)], { env: env() });
    expectExit(dot, 0);
    // The run's objects get a thick outline; the others are greyed.
    expect(statement(dot.stdout, '"netns:container1/link/ceth1" [')).toContain('TABLE BORDER="3"');
    expect(statement(dot.stdout, '"host/link/enp0s8" [')).toContain('TABLE BORDER="1"');
  });

  it('reads a namespace created after the run, and leaves it unknown', async () => {
    expect((await host.exec(['ip', 'netns', 'add', 'scratch'])).exitCode).toBe(0);
    const result = await host.runbook(['topology', '--json'], { env: env() });
    const topology = JSON.parse(result.stdout) as Topology;
    expect(topology.namespaces.map((ns) => ns.id)).toEqual([
      'host',
      'netns:container1',
      'netns:container2',
      'netns:container3',
      'netns:lan',
      'netns:scratch',
    ]);
    expect(topology.namespaces.at(-1)?.provenance).toEqual({ kind: 'unknown' });
  });
});
