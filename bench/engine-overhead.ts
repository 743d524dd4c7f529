import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkSteps } from '../src/engine/check.js';
import { executeSteps } from '../src/engine/execute-steps.js';
import { undoSteps } from '../src/engine/undo-steps.js';
import type { CommandResult, Executor } from '../src/exec/types.js';
import { MemoryJournal } from '../src/journal/sink.js';
import { FileJournal } from '../src/journal/writer.js';
import type { Plan } from '../src/plan/plan.js';

/**
 * An in-process executor that does nothing: `do X` marks X present, `undo X` absent, `has X`
 * answers whether it is. Each step therefore takes the full path check (fails) → do → verify (holds), and the time
 * measured is the engine's own: statechart, phase actors, expectations, journal entries.
 */
function noopExecutor(): Executor {
  const present = new Set<string>();
  const result = (exitCode: number): CommandResult => ({
    exitCode,
    signal: undefined,
    stdout: '',
    stderr: '',
    durationMs: 0,
    timedOut: false,
    startError: undefined,
  });
  return {
    run: async ({ argv }) => {
      const [verb, thing] = argv as [string, string];
      if (verb === 'do') present.add(thing);
      if (verb === 'undo') present.delete(thing);
      return result(verb === 'has' && !present.has(thing) ? 1 : 0);
    },
  };
}

function noopPlan(steps: number): Plan {
  return {
    runbook: 'bench',
    description: 'no-op steps',
    params: {},
    steps: Array.from({ length: steps }, (_, i) => ({
      id: `step-${i}`,
      title: `step ${i}`,
      why: 'bench',
      requires: [],
      capture: [],
      do: [{ argv: ['do', `s${i}`], timeoutMs: 1000 }],
      verify: [{ argv: ['has', `s${i}`], timeoutMs: 1000, expect: { exit: 0 } }],
      undo: [{ argv: ['undo', `s${i}`], timeoutMs: 1000 }],
      diagnose: [],
    })),
  };
}

/**
 * Milliseconds per step for a run of `steps` no-op steps, machine construction included: wall
 * time, and this process's CPU time (user + system, GC and compiler threads included), which a
 * loaded machine disturbs much less.
 */
export async function measureEngineOverhead(
  steps: number,
  journalKind: 'memory' | 'file',
): Promise<{ wallMs: number; cpuMs: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'runbook-bench-engine-'));
  const journal = journalKind === 'memory' ? new MemoryJournal() : new FileJournal(path.join(dir, 'journal.ndjson'));
  try {
    const plan = noopPlan(steps);
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    const result = await executeSteps({ plan, executor: noopExecutor(), journal, signal: undefined });
    const cpu = process.cpuUsage(cpuStarted);
    const ms = performance.now() - started;
    if (result.status !== 'succeeded') throw new Error(`bench run ${result.status}`);
    return { wallMs: ms / steps, cpuMs: (cpu.user + cpu.system) / 1000 / steps };
  } finally {
    if (journal instanceof FileJournal) journal.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The same for the other two walks over steps, on the same no-op plan: `undo` (each step's undo
 * command, then its verification, which no longer holds) after the run made every step, and
 * `check` (each step's verification, which holds). In-memory journal: the engine's own cost.
 */
export async function measureWalkOverhead(
  steps: number,
  walk: 'undo' | 'check',
): Promise<{ wallMs: number; cpuMs: number }> {
  const plan = noopPlan(steps);
  const executor = noopExecutor();
  // Every step present, as after the run.
  for (const step of plan.steps) await executor.run({ argv: step.do[0]!.argv, timeoutMs: 1000, signal: undefined });
  const undoable = { ...plan, steps: [...plan.steps].reverse() };
  const journal = new MemoryJournal();
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const status =
    walk === 'undo'
      ? (await undoSteps({ steps: undoable.steps, executor, journal, signal: undefined })).status
      : (await checkSteps({ plan, executor, journal, signal: undefined })).status;
  const cpu = process.cpuUsage(cpuStarted);
  const ms = performance.now() - started;
  if (status !== (walk === 'undo' ? 'rolled-back' : 'ok')) throw new Error(`bench ${walk} ${status}`);
  return { wallMs: ms / steps, cpuMs: (cpu.user + cpu.system) / 1000 / steps };
}
