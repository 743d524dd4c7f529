import { rollbackWhileLocked } from '../engine/rollback.js';
import type { CniCall } from './call.js';
import { attachmentRuns, type PluginRun } from './cni-state.js';
import { ipamDel } from './ipam.js';
import { CniError, cniErrorCodes } from './protocol.js';

/**
 * DEL: the container leaves the network. Every run of the attachment that is not undone yet is
 * rolled back from its journal, newest first — a finished ADD's, and an ADD killed half-way,
 * whose journal says which command it was in — then the IPAM plugin releases the address. It
 * succeeds when the runs, the namespace or the objects are gone already (the spec requires it:
 * a rollback treats "already gone" as undone), and when called again.
 *
 * What every container shares (the network runbook's run) is never undone by a DEL: it is kept
 * when the last container leaves, as the reference bridge plugin keeps its bridge; `runbook
 * rollback` of that run takes it away (docs/cni.md).
 */
export async function cniDel(call: CniCall): Promise<void> {
  const runs = attachmentRuns(call.store, call.names.tag, call.attachment);
  await undoAttachmentRuns(call, runs);
  // After the rollback, never before: the address is not handed out again while an interface holds it.
  if (call.config.ipam !== undefined) await ipamDel(call.request, call.config, call.stdin);
}

/** Rolls back `runs` (an attachment's), newest first; an undo that leaves its effect fails the call. */
export async function undoAttachmentRuns(call: CniCall, runs: readonly PluginRun[]): Promise<void> {
  for (const run of [...runs].reverse()) {
    call.runs.push(run.index.id);
    const result = await rollbackWhileLocked({
      store: call.store,
      runId: run.index.id,
      executor: call.executor,
      signal: call.signal,
      // Nothing builds on one container's own objects (what containers share is the network
      // runbook's run), and asking would read every run of the network.
      force: true,
      findOwners: call.findOwners?.(call.store),
    });
    if (result.kind === 'nothing' || result.status === 'rolled-back') continue;
    const failed = result.steps.find((step) => step.outcome === 'undo-failed');
    throw new CniError(
      result.status === 'interrupted' ? cniErrorCodes.tryAgainLater : cniErrorCodes.undoFailed,
      `rolling back run ${run.index.id} ${result.status === 'interrupted' ? 'was interrupted' : `failed at step ${failed?.stepId ?? '?'}`}; DEL again finishes it`,
      failed?.stillHolds,
    );
  }
}
