import { resumeWhileLocked } from '../engine/resume.js';
import { rollbackWhileLocked } from '../engine/rollback.js';
import { runWhileLocked, type RunRunbookResult } from '../engine/run.js';
import { RunbookError } from '../errors.js';
import { atCniPoint } from '../fault/kill-points.js';
import { newRunId } from '../journal/run-id.js';
import type { LoadedRunbook } from '../runbook/load.js';
import { advice, runbookCommand } from '../suggestion.js';
import { bridgeMac, networkRunTag } from './attachment.js';
import type { CniCall } from './call.js';
import { attachmentRuns, runsTagged } from './cni-state.js';
import { undoAttachmentRuns } from './del.js';
import { diagnosisDetails } from './diagnosis.js';
import { ipamAdd, ipamDel, type Lease } from './ipam.js';
import { checkConfiguredParams, checkContainerRunbook, loadCniRunbook, renderFor, valuesFor } from './prepare.js';
import { CniError, cniErrorCodes, type CniResult } from './protocol.js';

/**
 * ADD: the container joins the network. Under the host's lock (the caller holds it):
 *
 * 1. runs a killed ADD of the same attachment left are rolled back first (an attachment that
 *    succeeded already is refused: the spec forbids ADD twice without DEL);
 * 2. the runbooks are loaded and checked, before anything is allocated;
 * 3. the IPAM plugin allocates the address;
 * 4. the network runbook runs, unless a run of it with the same values holds already (what all
 *    containers share is made once);
 * 5. the container's runbook runs, with its run id ending in the container's tag;
 * 6. the result is built from that run's parameters.
 *
 * ADD cleans up its own partial work, as the spec asks: a run that fails is rolled back (the
 * engine's rollback-on-failure) and the allocation released. An ADD killed half-way leaves an
 * interrupted run: the container's is rolled back from its journal by the runtime's DEL; the
 * network's (which no DEL undoes) is finished by the next ADD (finishUnfinishedNetworkRuns).
 */
export async function cniAdd(call: CniCall): Promise<CniResult> {
  const { config, store, attachment, names } = call;
  const earlier = attachmentRuns(store, names.tag, attachment);
  const finished = earlier.find((run) => run.index.status === 'succeeded');
  if (finished !== undefined)
    throw new CniError(
      cniErrorCodes.alreadyAdded,
      `container ${attachment.containerId} (${attachment.ifname}) is on network ${attachment.network} already: run ${finished.index.id}`,
      'the runtime must DEL it before adding it again',
    );
  // What a killed or failed ADD left (its runtime should have called DEL): undone before anything new.
  await undoAttachmentRuns(call, earlier);

  const runbook = await loadCniRunbook(config.runbook, store);
  checkContainerRunbook(runbook);
  const networkRunbook =
    config.networkRunbook === undefined ? undefined : await loadCniRunbook(config.networkRunbook, store);
  checkConfiguredParams(config.params, networkRunbook === undefined ? [runbook] : [runbook, networkRunbook]);

  atCniPoint('before-ipam');
  const lease = config.ipam === undefined ? undefined : await ipamAdd(call.request, config, call.stdin);
  atCniPoint('after-ipam');
  // Whether a failure from here on releases the address: not while an interface may hold it.
  let releaseOnFailure = lease !== undefined;
  try {
    const offered = offeredValues(call, lease);
    if (networkRunbook !== undefined) await ensureNetwork(call, networkRunbook, offered);
    const { params, plan } = await renderFor(runbook, valuesFor(runbook, offered, config.params));
    const run = await runWhileLocked({
      runbook,
      params,
      plan,
      store,
      executor: call.executor,
      signal: call.signal,
      runId: newRunId(new Date(), names.tag),
      rollbackOnFailure: true,
    });
    call.runs.push(run.runId);
    if (run.status !== 'succeeded') {
      // Released only once nothing holds the address: the run never changed anything, or its
      // rollback finished. An interrupted run keeps it until the runtime's DEL.
      releaseOnFailure = lease !== undefined && undoneCompletely(run);
      throw runFailed(run, runbook.spec.name, 'container');
    }
    // The bridge's hardware address is known when the network runbook fixes it (and its check refuses any other).
    const fixedBridgeMac = networkRunbook !== undefined && Object.hasOwn(networkRunbook.spec.parameters, 'bridge_mac');
    return resultOf(call, params, lease, fixedBridgeMac ? offered.bridge_mac : undefined);
  } catch (error) {
    if (releaseOnFailure) await releaseAfterFailure(call, error);
    throw error;
  }
}

/** The values the plugin offers the runbooks: from the call, the names it derives, and the lease. */
function offeredValues(call: CniCall, lease: Lease | undefined): Record<string, string> {
  const { request, names, attachment } = call;
  const values: Record<string, string> = {
    container_id: attachment.containerId,
    ifname: attachment.ifname,
    netns: request.netns,
    host_veth: names.hostVeth,
    host_mac: names.hostMac,
    container_mac: names.containerMac,
    bridge_mac: bridgeMac(attachment.network),
  };
  if (lease !== undefined) {
    const prefix = lease.address.split('/')[1] as string;
    values.address = lease.address;
    values.gateway = lease.gateway;
    values.gateway_cidr = `${lease.gateway}/${prefix}`;
    values.subnet = networkOf(lease.address);
  }
  return values;
}

/**
 * The network runbook runs once for the values it is given, and is kept: a later ADD with the
 * same values finds its run and does nothing; new values (a new subnet in the configuration)
 * make a new run, whose steps already in place are "ok" and never undone by it.
 */
async function ensureNetwork(
  call: CniCall,
  runbook: LoadedRunbook,
  offered: Readonly<Record<string, string>>,
): Promise<void> {
  const { params, plan } = await renderFor(runbook, valuesFor(runbook, offered, call.config.params));
  // What a killed or interrupted network run left: finished (it keeps what it made) or undone, first.
  if (await finishUnfinishedNetworkRuns(call, runbook, params)) return;
  const standing = runsTagged(call.store, networkRunTag).find(
    (run) =>
      run.index.status === 'succeeded' &&
      run.start.runbook === runbook.spec.name &&
      sameValues(run.start.params, params),
  );
  if (standing !== undefined) return;
  const run = await runWhileLocked({
    runbook,
    params,
    plan,
    store: call.store,
    executor: call.executor,
    signal: call.signal,
    runId: newRunId(new Date(), networkRunTag),
    rollbackOnFailure: true,
  });
  call.runs.push(run.runId);
  if (run.status !== 'succeeded') throw runFailed(run, runbook.spec.name, 'network');
}

/**
 * Network runs an ADD left unfinished (killed, or interrupted by a signal, half-way; or failed
 * with a rollback that did not finish). No DEL undoes them (DEL undoes a container's own runs),
 * so the next ADD does, before it looks for a standing run: an interrupted run of the same
 * runbook and values is resumed (the engine's resume), so that it goes on owning what it made —
 * a new run would find the bridge in place, "ok", and never undo it; any other is rolled back.
 * Returns whether a resumed run now stands for these values.
 */
async function finishUnfinishedNetworkRuns(
  call: CniCall,
  runbook: LoadedRunbook,
  params: Readonly<Record<string, string>>,
): Promise<boolean> {
  let resumed = false;
  for (const run of runsTagged(call.store, networkRunTag).reverse()) {
    if (run.index.status === 'succeeded') continue;
    call.runs.push(run.index.id);
    const resumable =
      !resumed &&
      run.index.status === 'interrupted' &&
      run.start.runbook === runbook.spec.name &&
      sameValues(run.start.params, params);
    if (resumable && (await resumeNetworkRun(call, runbook, run.index.id))) {
      resumed = true;
      continue;
    }
    await rollBackNetworkRun(call, run.index.id);
  }
  return resumed;
}

/** Resumes an interrupted network run; false when it cannot be resumed or fails (it is then rolled back). */
async function resumeNetworkRun(call: CniCall, runbook: LoadedRunbook, runId: string): Promise<boolean> {
  let result;
  try {
    result = await resumeWhileLocked({
      store: call.store,
      runId,
      executor: call.executor,
      signal: call.signal,
      // The runbook as loaded now: a run of another text is not resumed, but rolled back.
      currentRunbookHash: (file) => (file === runbook.file ? runbook.hash : undefined),
      findOwners: call.findOwners?.(call.store),
    });
  } catch (error) {
    // Refused before acting (the runbook changed, a rollback of it had begun): undone instead.
    if (error instanceof RunbookError && error.code === 'invalid-input') return false;
    throw error;
  }
  if (result.kind === 'nothing') return false;
  if (result.status === 'succeeded') return true;
  if (result.status === 'interrupted')
    throw new CniError(
      cniErrorCodes.tryAgainLater,
      `resuming network run ${runId} (runbook ${runbook.spec.name}) was interrupted; the next ADD finishes it`,
    );
  return false;
}

/** Rolls back a network run that will not stand; one that cannot be undone fails the ADD, naming it. */
async function rollBackNetworkRun(call: CniCall, runId: string): Promise<void> {
  const result = await rollbackWhileLocked({
    store: call.store,
    runId,
    executor: call.executor,
    signal: call.signal,
    findOwners: call.findOwners?.(call.store),
  });
  if (result.kind === 'nothing' || result.status === 'rolled-back') return;
  const failed = result.steps.find((step) => step.outcome === 'undo-failed');
  throw new CniError(
    result.status === 'interrupted' ? cniErrorCodes.tryAgainLater : cniErrorCodes.undoFailed,
    `rolling back the unfinished network run ${runId} ${result.status === 'interrupted' ? 'was interrupted' : `failed at step ${failed?.stepId ?? '?'}`}; the next ADD tries again`,
    failed?.stillHolds ?? advice`or roll it back yourself: ${runbookCommand('rollback', runId)}`,
  );
}

function sameValues(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((key) => a[key] === b[key]);
}

/** Whether a failed run's changes were all undone (its rollback-on-failure finished). */
function undoneCompletely(run: RunRunbookResult): boolean {
  if (run.status === 'interrupted') return false;
  return run.rollback === undefined || run.rollback.kind === 'nothing' || run.rollback.status === 'rolled-back';
}

/** A failed run as the spec's error: the step, and the diagnosis as details. */
function runFailed(run: RunRunbookResult, runbook: string, kind: 'container' | 'network'): CniError {
  // Who finishes what the run left: a container's run is the runtime's DEL's; the network's, no
  // DEL's (it is shared), but the next ADD's (finishUnfinishedNetworkRuns).
  const finisher = kind === 'container' ? 'DEL rolls back what it did' : 'the next ADD finishes it';
  if (run.status === 'interrupted')
    return new CniError(
      cniErrorCodes.tryAgainLater,
      `runbook ${runbook} was interrupted (run ${run.runId}); ${finisher}`,
    );
  const failure = run.failure;
  const rolledBack =
    run.rollback?.kind === 'rollback'
      ? run.rollback.status === 'rolled-back'
        ? 'what it changed was rolled back'
        : `its rollback ${run.rollback.status === 'failed' ? 'failed' : 'was interrupted'}: ${kind === 'container' ? 'DEL' : 'the next ADD'} finishes it`
      : 'it changed nothing';
  // Where to read the whole story: the run's journal, in the network's state dir (the edge names it).
  const journal = advice`what the run did: ${runbookCommand('journal', run.runId)}`;
  return new CniError(
    cniErrorCodes.stepFailed,
    `runbook ${runbook} failed at step ${failure?.stepId ?? '?'} (run ${run.runId}); ${rolledBack}`,
    failure === undefined
      ? journal
      : [...diagnosisDetails(failure.title, failure.check?.reason ?? 'failed', failure.findings), '\n', ...journal],
  );
}

/** Releases the lease after a failed ADD; if that fails too, the runtime's DEL will try again. */
async function releaseAfterFailure(call: CniCall, original: unknown): Promise<void> {
  try {
    await ipamDel(call.request, call.config, call.stdin);
  } catch (error) {
    if (original instanceof Error)
      (original as { releaseError?: string }).releaseError =
        `releasing the address failed too: ${(error as Error).message}`;
  }
}

/** The network of an address with a prefix: 10.89.0.5/24 → 10.89.0.0/24. */
function networkOf(cidr: string): string {
  const [address, prefixText] = cidr.split('/') as [string, string];
  const prefix = Number(prefixText);
  const value = address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (value & mask) >>> 0;
  return `${[24, 16, 8, 0].map((shift) => (network >>> shift) & 255).join('.')}/${prefix}`;
}

/**
 * The spec's result, from the run's parameters (which its journal records): the bridge and the
 * host end (host interfaces), the container end with its namespace, the address with its
 * gateway, the default route, and the DNS settings of the configuration or the IPAM result.
 */
function resultOf(
  call: CniCall,
  params: Readonly<Record<string, string>>,
  lease: Lease | undefined,
  bridgeMac: string | undefined,
): CniResult {
  const interfaces: NonNullable<CniResult['interfaces']> = [];
  if (params.bridge !== undefined) interfaces.push({ name: params.bridge, mac: bridgeMac });
  if (params.host_veth !== undefined) interfaces.push({ name: params.host_veth, mac: params.host_mac });
  interfaces.push({ name: call.attachment.ifname, mac: params.container_mac, sandbox: call.request.netns });
  const container = interfaces.length - 1;
  const address = params.address ?? lease?.address;
  const gateway = params.gateway ?? lease?.gateway;
  const dns = call.config.dns ?? lease?.dns;
  return {
    cniVersion: call.config.cniVersion,
    interfaces,
    ips:
      address === undefined ? [] : [{ address, ...(gateway === undefined ? {} : { gateway }), interface: container }],
    ...(gateway === undefined ? {} : { routes: [{ dst: '0.0.0.0/0', gw: gateway }] }),
    ...(dns === undefined ? {} : { dns }),
  };
}
