import { exitCodeFor, RunbookError } from '../../errors.js';
import { runStartOf, verifyJournal } from '../../journal/reader.js';
import { formatTimeline } from '../../journal/timeline.js';
import type { CliContext } from '../context.js';

/** `runbook journal <run-id>`: the audit trail of a run, as a timeline or raw entries. */
export function journalCommand(ctx: CliContext, runId: string, options: { json?: boolean; verify?: boolean }): number {
  const { store } = ctx;
  const run = store.findRun(runId, (note) => ctx.err(`note: ${note}`));
  if (run.status === 'damaged') {
    throw new RunbookError('journal-damaged', `run ${run.id} is damaged: ${run.damage}`);
  }
  const journal = store.readJournal(run.id);
  runStartOf(journal); // a journal that does not begin as a run is damaged: exit 1, named
  if (journal.tornTail !== undefined) {
    ctx.err(`warning: the last line of the journal is incomplete (the process died while writing it) and is ignored`);
  }
  if (options.verify) {
    const problem = verifyJournal(journal, run.rebuilt === undefined ? run : undefined);
    if (problem !== undefined) {
      ctx.err(`journal of run ${run.id} is NOT intact: entry ${problem.line}: ${problem.reason}`);
      return exitCodeFor('damaged');
    }
    ctx.out(
      `journal of run ${run.id} is intact: ${journal.lines.length} entries, hash chain ${run.rebuilt === undefined ? 'and index agree' : 'holds (the index was rebuilt from it, so entries cut off its end cannot be told)'}`,
    );
    return exitCodeFor('intact');
  }
  if (options.json) {
    for (const raw of journal.raw) ctx.out(raw);
    return exitCodeFor('ok');
  }
  ctx.out(`status: ${run.status}`);
  for (const line of formatTimeline(journal.lines)) ctx.out(line);
  return exitCodeFor('ok');
}
