import { checkSteps, type StepCheck } from '../engine/check.js';
import { MemoryJournal } from '../journal/sink.js';
import { shareIdenticalProbes } from '../runbook/shared-probes.js';
import { networkRunTag } from './attachment.js';
import type { CniCall } from './call.js';
import { attachmentRuns, runsTagged, type PluginRun } from './cni-state.js';
import { diagnosisDetails } from './diagnosis.js';
import { ipamCheck } from './ipam.js';
import { CniError, cniErrorCodes } from './protocol.js';

/**
 * CHECK: is the container's network still what its ADD made? The verify checks of the
 * container's run (its recorded plan, as `runbook check` runs them: read-only) and of the
 * network's run, then the IPAM plugin's own CHECK; the first step that does not hold fails the
 * call with its diagnosis (cause and fix). The previous result the runtime passes must name the
 * address the run configured.
 */
export async function cniCheck(call: CniCall): Promise<void> {
  const runs = attachmentRuns(call.store, call.names.tag, call.attachment);
  const run = [...runs].reverse().find((r) => r.index.status === 'succeeded');
  if (run === undefined) {
    throw runs.length === 0
      ? new CniError(
          cniErrorCodes.unknownContainer,
          `container ${call.attachment.containerId} (${call.attachment.ifname}) has no run on network ${call.attachment.network}`,
        )
      : new CniError(
          cniErrorCodes.drifted,
          `container ${call.attachment.containerId} (${call.attachment.ifname}): its ADD did not finish (run ${runs.at(-1)?.index.id}, ${runs.at(-1)?.index.status})`,
          'DEL rolls it back',
        );
  }
  call.runs.push(run.index.id);
  checkPreviousResult(call, run);

  const network = runsTagged(call.store, networkRunTag)
    .reverse()
    .find((r) => r.index.status === 'succeeded');
  for (const checked of network === undefined ? [run] : [network, run]) {
    const plan = shareIdenticalProbes(checked.start.plan);
    const result = await checkSteps({
      plan,
      executor: call.executor,
      journal: new MemoryJournal(),
      signal: call.signal,
    });
    if (result.status === 'interrupted')
      throw new CniError(cniErrorCodes.tryAgainLater, `CHECK was interrupted (run ${checked.index.id})`);
    const failing = result.steps.find((step) => !step.ok);
    if (failing !== undefined) throw drifted(checked, failing);
  }
  if (call.config.ipam !== undefined) await ipamCheck(call.request, call.config, call.stdin);
}

/** The runtime's record of the ADD must agree with the run's: the same namespace and address. */
function checkPreviousResult(call: CniCall, run: PluginRun): void {
  const params = run.start.params;
  if (params.netns !== undefined && params.netns !== call.request.netns)
    throw new CniError(
      cniErrorCodes.drifted,
      `CNI_NETNS is ${call.request.netns}, but run ${run.index.id} attached the container in ${params.netns}`,
    );
  const ips = call.config.prevResult?.ips;
  if (params.address === undefined || !Array.isArray(ips)) return;
  const addresses = ips.map((ip: unknown) => (ip as { address?: unknown }).address);
  if (!addresses.includes(params.address))
    throw new CniError(
      cniErrorCodes.drifted,
      `prevResult names ${addresses.join(', ') || 'no address'}, but run ${run.index.id} gave the container ${params.address}`,
    );
}

function drifted(run: PluginRun, step: StepCheck): CniError {
  return new CniError(
    cniErrorCodes.drifted,
    `step ${step.stepId} of run ${run.index.id} (${run.start.runbook}) no longer holds${step.findings[0] === undefined ? '' : `: ${step.findings[0].cause}`}`,
    diagnosisDetails(step.title, step.check?.reason ?? 'does not hold', step.findings),
  );
}
