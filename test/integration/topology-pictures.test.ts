import { execa } from 'execa';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxHost } from '../helpers/sandbox-host.js';
import { tempDirsRemovedAfterAll } from '../helpers/temp-dir.js';
import { expectExit } from './sandbox-nested.js';

/**
 * The pictures in docs/learn-by-doing.md (issue 29), made again the way the doc makes them — a
 * sandbox `lab`, part 1 stage by stage, then part 2 — and compared with the SVGs kept in
 * docs/topology/, so that a picture can never show what the code no longer draws.
 *
 * Each is `runbook --in lab topology --format dot` laid out by `dot -Tsvg`, as `--format svg`
 * does, with the run's id replaced first by the one the doc shows: ids differ from run to run,
 * the picture must not. The SVGs are those of Debian 12's Graphviz (2.42) and DejaVu Sans Mono
 * (fonts-dejavu-core), as scripts/install-system-packages.sh installs them. After a change to
 * the drawing, regenerate them with
 *   npx vitest run test/integration/topology-pictures.test.ts --update
 * and look at them before committing.
 */

const docs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/topology');
const tempDir = tempDirsRemovedAfterAll('runbook-pictures-');

/** The run ids the doc shows (learn-by-doing.md), for part 1 and part 2. */
const part1Id = '20261129T182755.769Z-4eed';
const part2Id = '20261129T182846.302Z-7c1a';

const stages: ReadonlyArray<{ picture: string; commands: string[][]; runId: string }> = [
  {
    picture: 'part1-stage1.svg',
    commands: [['run', 'single-container', '--until', 'move-container-end']],
    runId: part1Id,
  },
  { picture: 'part1-stage2.svg', commands: [['resume', '--until', 'container-address']], runId: part1Id },
  { picture: 'part1-stage3.svg', commands: [['resume', '--until', 'host-route']], runId: part1Id },
  { picture: 'part1-stage4.svg', commands: [['resume']], runId: part1Id },
  { picture: 'part2.svg', commands: [['rollback'], ['run', 'multi-container']], runId: part2Id },
];

describe('the topology pictures of docs/learn-by-doing.md', () => {
  let host: SandboxHost;
  let stateDir: string;
  const runbook = (args: string[]) => host.runbook(args, { env: { RUNBOOK_STATE_DIR: stateDir } });

  beforeAll(async () => {
    host = await SandboxHost.create();
    stateDir = tempDir();
    expectExit(await runbook(['sandbox', 'create', 'lab']), 0);
  });
  afterAll(async () => {
    if (host !== undefined && stateDir !== undefined) await runbook(['sandbox', 'destroy', 'lab']);
    host?.dispose();
  });

  for (const stage of stages) {
    it(`docs/topology/${stage.picture} is what topology draws at that point`, async () => {
      for (const command of stage.commands) expectExit(await runbook(['--in', 'lab', ...command]), 0);
      const drawn = await runbook(['--in', 'lab', 'topology', '--format', 'dot']);
      expectExit(drawn, 0);
      const dot = drawn.stdout.replace(/\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}/g, stage.runId);
      const svg = await execa('dot', ['-Tsvg'], { input: dot });
      await expect(svg.stdout).toMatchFileSnapshot(path.join(docs, stage.picture));
    });
  }
});
