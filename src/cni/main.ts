import type { FindOwners } from '../engine/foreign-contents.js';
import { RunbookError, type ErrorCode } from '../errors.js';
import { armCniAddPoints } from '../fault/kill-points.js';
import { createHostExecutor } from '../host/host-executor.js';
import { requireNetAdmin } from '../host/privileges.js';
import { openRunStore } from '../store/open-run-store.js';
import type { RunStore } from '../store/run-store.js';
import type { Advice } from '../suggestion.js';
import { attachmentNames } from './attachment.js';
import type { CniCall } from './call.js';
import { networkStateDir, recordCall } from './cni-state.js';
import { parseNetworkConfig, type NetworkConfig } from './config.js';
import { CniError, cniErrorCodes, errorObject, resultObject, supportedVersions, versionObject } from './protocol.js';
import { parseRequest, type CniRequest } from './request.js';
import { acquireChangeLocksWithin } from './wait-for-locks.js';

/** What a call of the plugin is given by its process, and how it answers (src/cli/cni-plugin.ts). */
export interface CniIo {
  /** The runtime's variables (CNI_* and the rest, handed on to the IPAM plugin). */
  env: Readonly<Record<string, string | undefined>>;
  /** The network configuration, as the runtime wrote it on stdin. */
  readStdin: () => Promise<string>;
  /** stdout: the result, the version object or the error object, nothing else. */
  out: (text: string) => void;
  /**
   * Advice in an error's details, as the operator reading the runtime's error must type it: for
   * the network's state dir (undefined before the configuration named it).
   */
  render: (advice: string | Advice, stateDir: string | undefined) => string;
  /** Aborted by SIGTERM or SIGINT: the engine stops at its next safe point. */
  signal: AbortSignal;
  /** Names the runs that made what a refused rollback found (the CLI's owner finder): see CniCall. */
  findOwners?: ((store: RunStore) => FindOwners) | undefined;
}

/**
 * `runbook-cni`: runbook as a CNI plugin (docs/cni.md). A runtime runs it with no arguments, the
 * CNI_* variables and the network configuration on stdin; it answers on stdout with the result
 * (ADD), the version object (VERSION), nothing (DEL, CHECK) or the spec's error object, and
 * returns 0 or 1, the exit status. Nothing else ever goes to stdout; nothing goes to stderr
 * either, which the runtime shows its user. Its process (variables, stdin, signals) is read at
 * the edge, src/cli/cni-plugin.ts.
 */
export async function cniMain({ env, readStdin, out, render, signal, findOwners }: CniIo): Promise<number> {
  const started = performance.now();
  let cniVersion: string = supportedVersions[supportedVersions.length - 1] as string;
  let stateDir: string | undefined;
  let record: ((outcome: 'started' | 'ok' | CniError) => void) | undefined;
  try {
    const request = parseRequest(env);
    // RUNBOOK_FAULT_KILL=cni-add:… (tests): the runtime's cleanup DEL, with the same environment, must not die too.
    if (request.command === 'ADD') armCniAddPoints();
    const text = await readStdin();
    if (request.command === 'VERSION') {
      out(`${JSON.stringify(versionObject(versionAsked(text) ?? cniVersion))}\n`);
      return 0;
    }
    const config = parseNetworkConfig(text);
    cniVersion = config.cniVersion;
    stateDir = networkStateDir(config.stateDir, config.name);
    const call = { ...openCall(request, config, text, signal), findOwners };
    record = (outcome) =>
      recordCall(call.store, {
        time: new Date().toISOString(),
        command: request.command,
        containerId: request.containerId,
        ifname: request.ifname,
        netns: request.netns,
        runs: call.runs,
        outcome: typeof outcome === 'string' ? outcome : outcome.code,
        message: typeof outcome === 'string' ? undefined : outcome.message,
        durationMs: Math.round(performance.now() - started),
      });
    // An ADD killed half-way (its journal may not have begun) still shows in the log.
    if (request.command === 'ADD') record('started');
    const result = await underLocks(call, request, config);
    if (result !== undefined) out(`${JSON.stringify(resultObject(result))}\n`);
    record('ok');
    return 0;
  } catch (thrown) {
    const error = asCniError(thrown);
    try {
      record?.(error);
    } catch {
      // The answer to the runtime matters more than the log line.
    }
    out(`${JSON.stringify(errorObject(cniVersion, error, (advice) => render(advice, stateDir)))}\n`);
    return 1;
  }
}

/** The network's state dir, trusted, and what the verb needs. */
function openCall(request: CniRequest, config: NetworkConfig, stdin: string, signal: AbortSignal): CniCall {
  requireNetAdmin(`the CNI plugin runbook-cni (${request.command})`, 'the runtime must run its plugins as root');
  // The door every command goes through: the network's state dir, checked, then used only through the store.
  const store = openRunStore(networkStateDir(config.stateDir, config.name), 'write');
  const attachment = { network: config.name, containerId: request.containerId, ifname: request.ifname };
  return {
    request,
    config,
    stdin,
    store,
    // Every command on the light spawn path, execa never loaded (src/exec/fast-spawn.ts says why).
    executor: createHostExecutor({ light: true }),
    signal,
    attachment,
    names: attachmentNames(attachment),
    runs: [],
  };
}

/**
 * ADD and DEL change the host: they wait (bounded) for the state dir's lock and the host's,
 * and hold them for the whole call. CHECK changes nothing and takes neither.
 */
async function underLocks(call: CniCall, request: CniRequest, config: NetworkConfig) {
  // Each verb's module is imported when it runs: a DEL or a CHECK need not load the run's
  // statechart (xstate), as `runbook` imports each command's module when dispatched.
  if (request.command === 'CHECK') return void (await (await import('./check.js')).cniCheck(call));
  const locks = await acquireChangeLocksWithin(
    call.store,
    `cni ${request.command} ${request.containerId} ${request.ifname}`,
    call.executor,
    config.lockTimeoutMs,
  );
  try {
    if (request.command === 'ADD') return await (await import('./add.js')).cniAdd(call);
    await (await import('./del.js')).cniDel(call);
    return undefined;
  } finally {
    locks.release();
  }
}

/** VERSION's stdin carries the version the runtime speaks; the answer is in it when known. */
function versionAsked(text: string): string | undefined {
  try {
    const asked = (JSON.parse(text) as { cniVersion?: unknown }).cniVersion;
    return typeof asked === 'string' && /^[0-9]+\.[0-9]+\.[0-9]+$/.test(asked) ? asked : undefined;
  } catch {
    return undefined;
  }
}

/** runbook's own errors as the spec's: each kind of failure has its code (src/cni/protocol.ts). */
const codeOfRunbookError: Record<ErrorCode, number> = {
  'invalid-input': cniErrorCodes.invalidConfig,
  'not-permitted': cniErrorCodes.notPermitted,
  locked: cniErrorCodes.tryAgainLater,
  'journal-damaged': cniErrorCodes.stateUnusable,
  'wrong-host': cniErrorCodes.stateUnusable,
  'step-failed': cniErrorCodes.stepFailed,
  interrupted: cniErrorCodes.tryAgainLater,
  'untrusted-state-dir': cniErrorCodes.stateUnusable,
  'io-error': cniErrorCodes.ioFailure,
  'journal-version': cniErrorCodes.stateUnusable,
  internal: cniErrorCodes.internal,
  // Issue 23's refusals before a run's first change: the plugin's runs replace nothing (src/engine/run.ts's
  // runWhileLocked), but a precondition about the host is the runbook's step failing, said before it ran.
  'precondition-failed': cniErrorCodes.stepFailed,
  'replace-needed': cniErrorCodes.invalidConfig,
};

function asCniError(error: unknown): CniError {
  const release = (error as { releaseError?: string } | undefined)?.releaseError;
  const withRelease = (e: CniError) =>
    release === undefined
      ? e
      : new CniError(e.code, e.message, e.details === undefined ? release : [...asAdvice(e.details), '\n', release]);
  if (error instanceof CniError) return withRelease(error);
  if (error instanceof RunbookError)
    return withRelease(new CniError(codeOfRunbookError[error.code], error.message, error.hint));
  const message = error instanceof Error ? error.message : String(error);
  return new CniError(
    cniErrorCodes.internal,
    `internal error: ${message}`,
    error instanceof Error ? error.stack : undefined,
  );
}

function asAdvice(details: string | Advice): Advice {
  return typeof details === 'string' ? [details] : details;
}
