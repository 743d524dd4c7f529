import { afterAll, describe, expect, it } from 'vitest';
import { runs } from '../helpers/cli-harness.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { SandboxHost } from '../helpers/sandbox-host.js';
import { expectExit } from './sandbox-nested.js';

/**
 * `resume --until`: the tutorial stage by stage in one run (issue 18). A later stop is honoured
 * and recorded as `stopped`; a step the run already finished, or no such step, is invalid input
 * that changes nothing. Inside a SandboxHost: nothing touches this machine's network.
 */
describe('resume --until', () => {
  const stateDir = tempDir('runbook-resume-until-');
  let host: SandboxHost | undefined;
  afterAll(() => {
    host?.dispose();
    removeDir(stateDir);
  });

  it('stops the same run again at a later step, refuses a finished or unknown one, then runs to the end', async () => {
    host = await SandboxHost.create();
    const runbook = (...args: string[]) => host!.runbook(['--state-dir', stateDir, ...args]);
    expectExit(await runbook('run', 'single-container', '--until', 'veth-pair'), 0);
    const [run] = runs(stateDir);
    const before = await host.snapshot();

    for (const [until, message] of [
      ['namespace', 'is past that step already; nothing was changed'],
      ['veth-pair', 'is past that step already; nothing was changed'],
      ['no-such-step', 'has no such step'],
    ] as const) {
      const refused = await runbook('resume', '--until', until);
      expectExit(refused, 2);
      expect(refused.stderr).toContain(`--until ${until}: run ${run!.id} ${message}`);
    }
    expect(await host.snapshot()).toEqual(before);

    const stopped = await runbook('resume', '--until', 'container-address');
    expectExit(stopped, 0);
    expect(stopped.stdout).toMatch(/^ {2}changed +container-address /m);
    expect(stopped.stdout).not.toMatch(/host-route/);
    expect(stopped.stdout).toContain(
      `run ${run!.id} stopped after step container-address as asked (--until); continue with \`runbook --state-dir ${stateDir} resume ${run!.id}\``,
    );
    expect(runs(stateDir).map((r) => [r.id, r.status])).toEqual([[run!.id, 'stopped']]);
    expect(await host.ipJson(['route', 'show', '172.16.0.0/24'])).toEqual([]);

    const finished = await runbook('resume');
    expectExit(finished, 0);
    expect(finished.stdout).toContain(`run ${run!.id} resumed and succeeded`);
    expect(runs(stateDir).map((r) => r.status)).toEqual(['succeeded']);
  });
});
