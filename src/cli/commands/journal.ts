import { exitCodeFor, RunbookError } from '../../errors.js';
import { runStartOf, verifyJournal } from '../../journal/reader.js';
import { formatTimeline } from '../../journal/timeline.js';
import { defineCommand } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { flag, type OptionsOf } from '../option-spec.js';

const journalOptions = {
  json: flag('--json', 'print the raw journal entries (NDJSON, readable by pino-pretty too)'),
  verify: flag('--verify', "check the journal's hash chain and index: exit 0 if intact, 1 naming the first bad entry"),
};

export const command = defineCommand({
  name: 'journal',
  description:
    'show the audit trail of a run: every step and every command (as a pasteable shell line) with its result',
  arguments: [
    {
      name: '<run-id>',
      description: 'a run id from `runbook runs`, a unique prefix of one, or "latest"',
      complete: 'runs',
    },
  ],
  options: journalOptions,
  examples: [
    ['runbook journal latest', 'what the latest run did, command by command'],
    ['runbook journal latest --json | npx pino-pretty', 'every entry, pretty-printed'],
    ['runbook journal 20261128T145804 --verify', 'was any entry altered, removed or reordered?'],
  ],
  exitCodes: {
    ok: 'the journal was shown, or --verify found it intact',
    stepFailed:
      '--verify found an entry altered, removed or reordered, or the journal cannot be read (the message names the entry)',
    invalidInput: 'no such run, or a malformed flag',
    locked: null,
    interrupted: null,
  },
  stateDir: 'read',
  dueRuns: 'report',
  action: (ctx, [runId], options) => journalCommand(ctx, runId, options),
});

/** `runbook journal <run-id>`: the audit trail of a run, as a timeline or raw entries. */
export function journalCommand(ctx: CliContext, runId: string, options: OptionsOf<typeof journalOptions>): number {
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
