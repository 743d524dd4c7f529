import { pruneRuns, type KeepReason } from '../../engine/prune.js';
import { ExitCode, invalidInput } from '../../errors.js';
import { defineCommand } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { parseAge } from '../duration.js';
import { flag, option, type OptionsOf } from '../option-spec.js';
import { jsonLine } from '../output.js';

const pruneOptions = {
  keep: option('--keep <n>', 'keep the N newest runs of each runbook on this host, whatever they are (default 5)'),
  runbook: option('--runbook <name>', 'only runs of this runbook', { complete: 'runbooks' }),
  olderThan: option('--older-than <age>', 'only runs that ended longer ago than this (90s, 12h, 30d)'),
  damaged: flag('--damaged', 'remove damaged runs too (kept otherwise, for someone to look into)'),
  dryRun: flag('--dry-run', 'say what would be removed; remove nothing (reads only)'),
  json: flag('--json', 'print the outcome as JSON'),
};

export const command = defineCommand({
  name: 'prune',
  description:
    'remove the records of runs nobody can still use: never one with changes in effect, awaiting confirmation, in progress or of another host',
  options: pruneOptions,
  help: `
Every run is a record (its journal, index and watchdog log in <state-dir>/runs/), a no-op
re-apply too. prune removes the ones that can no longer be used: runs rolled back or reverted,
runs that changed nothing, runs whose changes were all undone. It never removes a run whose
changes are in effect (rollback needs its journal), one awaiting confirmation, one in progress,
or a run of another host; a damaged run only with --damaged. The N newest runs of each runbook
here are kept whatever they are (--keep, default 5; 0 keeps none of those). Runs awaiting their
automatic revert are reverted first, as by any command that changes runs (not with --dry-run,
which only reads).`,
  examples: [
    ['sudo runbook prune --dry-run', 'what would go'],
    ['sudo runbook prune --keep 10 --older-than 30d', 'keep 10 of each runbook; prune only runs over 30 days old'],
    ['sudo runbook prune --runbook single-container --keep 1', 'that runbook only, keeping its newest'],
  ],
  exitCodes: {
    ok: 'pruned (or, with --dry-run, listed)',
    stepFailed: null,
    invalidInput: 'a malformed flag; nothing was changed',
    interrupted: null,
  },
  // Removes run records under the lock; with --dry-run it only reads, and never reverts.
  stateDir: (_args, options) => (options.dryRun === true ? 'read' : 'write'),
  dueRuns: 'revert',
  action: (ctx, _args, options) => pruneCommand(ctx, options),
});

export type PruneCommandOptions = OptionsOf<typeof pruneOptions>;

/** How each reason to keep a run reads in the summary. */
const keptAs: Record<KeepReason, string> = {
  'changes-in-effect': 'with changes in effect (roll back to undo them)',
  'awaiting-confirmation': 'awaiting confirmation',
  'in-progress': 'in progress',
  'another-host': 'of another host',
  damaged: 'damaged (see `runbook journal ID --verify`; --damaged removes them)',
  newest: 'among the newest of their runbook (--keep)',
  recent: 'ended recently (--older-than)',
};

/** `runbook prune`: remove the run records nobody can still use (src/engine/prune.ts says which). */
export async function pruneCommand(ctx: CliContext, options: PruneCommandOptions): Promise<number> {
  const keepText = options.keep ?? '5';
  const keep = Number(keepText);
  if (!/^[0-9]{1,6}$/.test(keepText.trim()) || !Number.isSafeInteger(keep))
    throw invalidInput(`--keep ${keepText}: not a whole number of runs; nothing was changed`, 'e.g. --keep 5');
  const result = await pruneRuns({
    store: ctx.store,
    keep,
    runbook: options.runbook,
    olderThanMs: options.olderThan === undefined ? undefined : parseAge('--older-than', options.olderThan),
    damaged: options.damaged,
    dryRun: options.dryRun,
    onNote: (note) => ctx.err(`note: ${note}`),
  });
  if (options.json) {
    ctx.out(jsonLine({ event: 'prune', ...result }));
    return ExitCode.ok;
  }
  const verb = result.dryRun ? 'would prune' : 'pruned';
  ctx.out(`${verb} ${result.pruned.length} run(s)${result.pruned.length > 0 ? ':' : ''}`);
  for (const run of result.pruned) ctx.out(`  ${run.runId.padEnd(26)} ${run.runbook.padEnd(20)} ${run.status}`);
  const kept = (Object.entries(result.kept) as Array<[KeepReason, string[]]>).filter(([, ids]) => ids.length > 0);
  if (kept.length > 0) ctx.out(`kept: ${kept.map(([reason, ids]) => `${ids.length} ${keptAs[reason]}`).join('; ')}`);
  return ExitCode.ok;
}
