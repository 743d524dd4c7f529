import type { RunJournal } from '../journal/run-journal.js';
import { executeSteps, type ExecuteStepsOptions, type StepsResult } from './runner.js';

/**
 * Runs the steps of a run (a first attempt or a resume) and records how the attempt ended.
 * If the engine itself fails (a journal write, say), the run-end entry records that too, so
 * that the journal never ends mid-run for a reason it does not state.
 */
export async function executeAndRecord(
  journal: RunJournal,
  options: Omit<ExecuteStepsOptions, 'journal'>,
): Promise<StepsResult> {
  let result: StepsResult;
  try {
    result = await executeSteps({ ...options, journal });
  } catch (error) {
    tryAppend(journal, {
      type: 'run-end',
      status: 'interrupted',
      failedStep: undefined,
      message: `internal error: ${error instanceof Error ? error.message : String(error)}`,
    });
    throw error;
  }
  journal.append({
    type: 'run-end',
    status: result.status,
    failedStep: result.failure?.stepId,
    message:
      result.failure === undefined ? undefined : (result.failure.findings[0]?.cause ?? result.failure.check?.reason),
  });
  return result;
}

/** Best effort: the journal may be what failed. */
function tryAppend(journal: RunJournal, entry: Parameters<RunJournal['append']>[0]): void {
  try {
    journal.append(entry);
  } catch {
    // nothing more can be recorded; the run shows as interrupted
  }
}
