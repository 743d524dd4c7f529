import { journalFile } from '../../journal/paths.js';
import { findRun } from '../../journal/find-run.js';
import { readJournal, verifyJournal } from '../../journal/reader.js';
import { formatTimeline } from '../../journal/timeline.js';
import type { CliContext } from '../context.js';

/** `runbook journal <run-id>`: the audit trail of a run, as a timeline or raw entries. */
export function journalCommand(ctx: CliContext, runId: string, options: { json?: boolean; verify?: boolean }): number {
  const run = findRun(ctx.stateDir, runId);
  const journal = readJournal(journalFile(ctx.stateDir, run.id));
  if (journal.tornTail !== undefined) {
    ctx.err(`warning: the last line of the journal is incomplete (the process died while writing it) and is ignored`);
  }
  if (options.verify) {
    const problem = verifyJournal(journal, run);
    if (problem !== undefined) {
      ctx.err(`journal of run ${run.id} is NOT intact: entry ${problem.line}: ${problem.reason}`);
      return 1;
    }
    ctx.out(`journal of run ${run.id} is intact: ${journal.lines.length} entries, hash chain and index agree`);
    return 0;
  }
  if (options.json) {
    for (const raw of journal.raw) ctx.out(raw);
    return 0;
  }
  ctx.out(`status: ${run.status}`);
  for (const line of formatTimeline(journal.lines)) ctx.out(line);
  return 0;
}
