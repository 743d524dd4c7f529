import { cpSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxHost } from '../helpers/sandbox-host.js';
import { expectExit, insideSandbox, machineState, netnsNames, pinnedRunbook, sandboxFiles } from './sandbox-nested.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';
import { journalIds, journalLines, waitFor } from '../helpers/cli-harness.js';

/**
 * Runs are bound to the host they changed. With nested test sandboxes: a run recorded in
 * sandbox "a" is refused, with exit 2 and nothing changed, from sandbox "b" and from the plain
 * host around them, even when they are pointed at a's journal; and a one-shot --sandbox run,
 * whose host vanished with its command, cannot be rolled back at all. Everything runs inside a
 * SandboxHost; this machine is never touched.
 */

describe('host binding of runs made in persistent and one-shot sandboxes', () => {
  let host: SandboxHost;
  let stateDir: string;
  let machineBefore: Record<string, unknown>;
  let hostBefore: Record<string, unknown>;
  let singleContainer: string;
  const runbook = (args: readonly string[]) => host.runbook(['--state-dir', stateDir, ...args]);

  beforeAll(async () => {
    stateDir = tempDir('runbook-binding-');
    singleContainer = pinnedRunbook(stateDir, 'single-container');
    machineBefore = await machineState(stateDir);
    host = await SandboxHost.create();
    hostBefore = await host.snapshot();
  });

  afterAll(async () => {
    if (host !== undefined) {
      for (const name of ['a', 'b']) await runbook(['sandbox', 'destroy', name]);
      host.dispose();
    }
    expect(await machineState(stateDir), "this machine's own links, routes, namespaces and mounts").toEqual(
      machineBefore,
    );
    removeDir(stateDir);
  });

  it('a run made in sandbox "a" is refused from sandbox "b" and from the outer host, and goes on in "a"', async () => {
    expectExit(await runbook(['sandbox', 'create', 'a']), 0);
    expectExit(await runbook(['sandbox', 'create', 'b']), 0);
    const a = insideSandbox(host, stateDir, 'a');
    const b = insideSandbox(host, stateDir, 'b');
    const aState = sandboxFiles(stateDir, 'a').state;
    const bState = sandboxFiles(stateDir, 'b').state;

    const stopped = await runbook(['--in', 'a', 'run', singleContainer, '--until', 'host-route']);
    expectExit(stopped, 0);
    const runId = /run (\S+) stopped after step host-route/.exec(stopped.stdout)?.[1] as string;
    expect(runId).toBeDefined();
    expect(await netnsNames(a)).toEqual(['container1', 'lan']);

    // b gets a copy of a's journal: the same run, seen from another sandbox.
    cpSync(path.join(aState, 'runs'), path.join(bState, 'runs'), { recursive: true });
    const journalOf = (state: string) =>
      readdirSync(path.join(state, 'runs'))
        .sort()
        .map((f) => readFileSync(path.join(state, 'runs', f), 'utf8'));
    const before = {
      a: await a.snapshot(),
      b: await b.snapshot(),
      host: await host.snapshot(),
      aJournal: journalOf(aState),
      bJournal: journalOf(bState),
    };

    for (const command of ['rollback', 'resume']) {
      const fromB = await runbook(['--in', 'b', command, runId]);
      expectExit(fromB, 2);
      expect(fromB.stderr).toMatch(
        new RegExp(
          `run ${runId} belongs to host \\S+, network namespace net:\\[\\d+\\], sandbox "a", but this is host \\S+, network namespace net:\\[\\d+\\], sandbox "b"; nothing was changed`,
        ),
      );
      expect(fromB.stderr).toContain(`hint: act on it from inside its sandbox: runbook --state-dir ${stateDir} --in a`);

      // The plain host around the sandboxes, pointed at a's own state dir.
      const fromOuter = await runbook(['--state-dir', aState, command, runId]);
      expectExit(fromOuter, 2);
      expect(fromOuter.stderr).toMatch(
        new RegExp(
          `run ${runId} belongs to host \\S+, network namespace net:\\[\\d+\\], sandbox "a", but this is host \\S+, network namespace net:\\[\\d+\\]; nothing was changed`,
        ),
      );
    }
    // The same refusals without a run id (the default target is that run).
    expectExit(await runbook(['--in', 'b', 'rollback']), 2);
    expectExit(await runbook(['--state-dir', aState, 'resume']), 2);

    expect({
      a: await a.snapshot(),
      b: await b.snapshot(),
      host: await host.snapshot(),
      aJournal: journalOf(aState),
      bJournal: journalOf(bState),
    }).toEqual(before);

    // From its own sandbox, the run goes on and is undone.
    expectExit(await runbook(['--in', 'a', 'resume', runId]), 0);
    expectExit(await a.exec(['ip', 'netns', 'exec', 'container1', 'ping', '-c1', '-W1', '10.0.0.10']), 0);
    expectExit(await runbook(['--in', 'a', 'rollback', runId]), 0);
    expect(await netnsNames(a)).toEqual(['lan']);
    expect(await host.snapshot()).toEqual(hostBefore);
  });

  it('a one-shot --sandbox run cannot be rolled back: its host no longer exists', async () => {
    const oneShotState = path.join(stateDir, 'one-shot');
    const run = await host.runbook(['--state-dir', oneShotState, 'run', singleContainer, '--sandbox']);
    expectExit(run, 0);
    const runId = /run (\S+) succeeded/.exec(run.stdout)?.[1] as string;
    expect(runId).toBeDefined();

    const rollback = await host.runbook(['--state-dir', oneShotState, 'rollback', runId]);
    expectExit(rollback, 2);
    expect(rollback.stderr).toContain(
      `run ${runId} was made in a one-shot --sandbox host, which no longer exists; nothing was changed`,
    );
    // Not from a persistent sandbox either.
    const files = sandboxFiles(stateDir, 'b');
    cpSync(path.join(oneShotState, 'runs'), path.join(files.state, 'runs'), { recursive: true });
    const fromB = await runbook(['--in', 'b', 'rollback', runId]);
    expectExit(fromB, 2);
    expect(fromB.stderr).toContain('which no longer exists');
    expect(await host.snapshot()).toEqual(hostBefore);
  });

  it('a one-shot --sandbox run that stopped never suggests resume: not when it stops, not in runs, not from resume (issue 26)', async () => {
    const oneShotState = path.join(stateDir, 'one-shot-stopped');
    const sd = ['--state-dir', oneShotState];
    const run = await host.runbook([...sd, 'run', singleContainer, '--sandbox', '--until', 'namespace']);
    expectExit(run, 0);
    const runId = /run (\S+) stopped after step namespace as asked \(--until\)\n/.exec(run.stdout)?.[1] as string;
    expect(runId, run.stdout).toBeDefined();
    expect(run.stdout + run.stderr).not.toContain('resume');

    const runs = await host.runbook([...sd, 'runs']);
    expectExit(runs, 0);
    expect(runs.stdout).toMatch(new RegExp(`${runId} .* stopped .*\\(--sandbox: its host is gone\\)`));

    for (const [command, verb] of [
      ['resume', 'resume'],
      ['rollback', 'roll back'],
    ]) {
      const none = await host.runbook([...sd, command as string]);
      expectExit(none, 0);
      expect(none.stdout + none.stderr).toContain(`nothing to ${verb as string}`);
      expect(none.stdout + none.stderr).toContain(
        `(run ${runId} is stopped, but it ran in a one-shot --sandbox host, which vanished with it: start a new run)`,
      );
    }
    expect(await host.snapshot()).toEqual(hostBefore);
  });

  it('an interrupted --sandbox run says its host vanishes with it, not that it is re-checked on resume (issue 26)', async () => {
    const oneShotState = path.join(stateDir, 'one-shot-interrupted');
    const run = host.startRunbook(['--state-dir', oneShotState, 'run', singleContainer, '--sandbox']);
    await waitFor('the veth-pair step', () => {
      const [id] = journalIds(oneShotState);
      return (
        id !== undefined &&
        journalLines(oneShotState, id).some((l) => l.type === 'step-start' && l.step === 'veth-pair')
      );
    });
    // What Ctrl-C does in a terminal: the outer process passes SIGTERM on to the run inside.
    process.kill(run.pid, 'SIGTERM');
    const result = await run.done;
    expect(result.exitCode, result.stderr).toBe(130);
    expect(result.stderr).toContain(
      'SIGTERM: stopping at the next safe point (this sandbox host vanishes with the command, and what the run did in it)',
    );
    expect(result.stdout).toMatch(/run \S+ interrupted at a safe point\n/);
    expect(result.stdout + result.stderr).not.toContain('resume');
    expect(await host.snapshot()).toEqual(hostBefore);
  });
});
