import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openRecordedRun } from '../src/engine/recorded-run.js';
import { runRunbook } from '../src/engine/run.js';
import type { CommandResult, Executor } from '../src/exec/types.js';
import { loadRunbook } from '../src/runbook/load.js';
import { openRunStore } from '../src/store/open-run-store.js';

/** Each changed step writes 10 entries (step-start; 3 × command-start, command-end; 2 checks; step-end). */
const entriesPerStep = 10;

/**
 * Records a run of about `entries` journal entries that fails at its last step (so it is
 * resumable), then times what resume does before running anything: read the journal, verify
 * its hash chain and index, rebuild the plan from the recorded runbook, find where to go on.
 */
export async function measureResumeStartup(
  entries: number,
  rounds: number,
): Promise<{ entries: number; samples: number[] }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'runbook-bench-resume-'));
  try {
    const steps = Math.ceil(entries / entriesPerStep);
    const file = path.join(dir, 'bench.yaml');
    const stepYaml = (i: number) =>
      `  - id: s${i}\n    title: step ${i}\n    why: bench\n    do: [[do, s${i}]]\n    verify: [{ run: [has, s${i}] }]\n    undo: [[undo, s${i}]]\n`;
    writeFileSync(
      file,
      `name: bench\ndescription: resume bench\nsteps:\n${Array.from({ length: steps }, (_, i) => stepYaml(i)).join('')}`,
    );
    const loaded = loadRunbook(file);
    const present = new Set<string>();
    const last = `s${steps - 1}`;
    const executor: Executor = {
      run: async ({ argv }): Promise<CommandResult> => {
        const [verb, thing] = argv as [string, string];
        if (verb === 'do' && thing !== last) present.add(thing);
        return {
          exitCode: verb === 'has' && !present.has(thing) ? 1 : 0,
          signal: undefined,
          stdout: '',
          stderr: '',
          durationMs: 0,
          timedOut: false,
          startError: undefined,
        };
      },
    };
    const store = openRunStore(path.join(dir, 'state'), 'write');
    const run = await runRunbook({ runbook: loaded, params: {}, store, executor });
    if (run.status !== 'failed') throw new Error(`expected the bench run to fail at its last step, got ${run.status}`);
    const samples: number[] = [];
    let count = 0;
    for (let round = 0; round < rounds; round++) {
      const started = performance.now();
      const recorded = openRecordedRun(store, store.findRun(run.runId));
      const position = recorded.plan.steps.length - recorded.history.finishedSteps.length;
      samples.push(performance.now() - started);
      count = recorded.journal.lines.length;
      if (position !== 1) throw new Error(`expected one step left to resume, found ${position}`);
    }
    return { entries: count, samples };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
