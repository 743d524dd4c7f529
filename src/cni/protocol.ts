import type { Advice } from '../suggestion.js';

/**
 * The CNI protocol as runbook speaks it (the spec, SPEC.md of containernetworking/cni, versions
 * 0.4.0 and 1.0.0): the environment variables a runtime sets, the versions, the error object
 * and its well-known codes, and the codes of runbook's own failures (100 and up, which the spec
 * leaves to plugins). One place for these facts, so that every verb answers alike.
 */

/** The environment variables a runtime invokes a plugin with. */
export const cniEnv = {
  command: 'CNI_COMMAND',
  containerId: 'CNI_CONTAINERID',
  netns: 'CNI_NETNS',
  ifname: 'CNI_IFNAME',
  args: 'CNI_ARGS',
  path: 'CNI_PATH',
} as const;

/** The spec versions this plugin speaks: 0.4.0 (podman 4.3 writes it) and 1.0.0. Both have CHECK. */
export const supportedVersions = ['0.4.0', '1.0.0'] as const;
export type CniVersion = (typeof supportedVersions)[number];

/** The spec's well-known error codes (1–99), and runbook's own (100 and up). */
export const cniErrorCodes = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  /** A step of the runbook's run failed (ADD): the details name the step, the cause and the fix. */
  stepFailed: 100,
  /** An undo left its effect in place (DEL): the details name the step and what still holds. */
  undoFailed: 101,
  /** CHECK found the container's network no longer as its run left it. */
  drifted: 102,
  /** ADD for an attachment that has a run already (the spec forbids ADD twice without DEL). */
  alreadyAdded: 103,
  /** runbook's state dir or journal cannot be trusted or read: nothing was done. */
  stateUnusable: 104,
  /** Not root (no CAP_NET_ADMIN): nothing was done. */
  notPermitted: 105,
  internal: 999,
} as const;

/**
 * A failure reported to the runtime as the spec's error object, with a code. Its details may
 * suggest commands (advice, src/suggestion.ts): the plugin's edge renders them for the operator
 * who reads the runtime's error (src/cli/cni-plugin.ts).
 */
export class CniError extends Error {
  readonly code: number;
  readonly details: string | Advice | undefined;

  constructor(code: number, message: string, details?: string | Advice) {
    super(message);
    this.name = 'CniError';
    this.code = code;
    this.details = details;
  }
}

/** The spec's error object: `msg` short, `details` long (the hint, the diagnosis), rendered as text. */
export function errorObject(
  cniVersion: string,
  error: CniError,
  render: (advice: string | Advice) => string,
): Record<string, unknown> {
  return {
    cniVersion,
    code: error.code,
    msg: error.message,
    ...(error.details === undefined ? {} : { details: render(error.details) }),
  };
}

/** What a plugin prints for VERSION. */
export function versionObject(cniVersion: string): Record<string, unknown> {
  return { cniVersion, supportedVersions: [...supportedVersions] };
}

/** An interface of a result: a host's (no sandbox) or a container's (its netns path). */
export interface ResultInterface {
  name: string;
  mac?: string | undefined;
  sandbox?: string | undefined;
}

export interface ResultIp {
  address: string;
  gateway?: string | undefined;
  interface?: number | undefined;
}

export interface ResultRoute {
  dst: string;
  gw?: string | undefined;
}

export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** The result of an ADD, in the spec's shape (1.0.0: no `version` on an ip; 0.4.0 has it). */
export interface CniResult {
  cniVersion: string;
  interfaces?: ResultInterface[];
  ips: ResultIp[];
  routes?: ResultRoute[];
  dns?: Dns;
}

/** The result as the configuration's version writes it: 0.4.0 marks each ip's IP version. */
export function resultObject(result: CniResult): Record<string, unknown> {
  const ips =
    result.cniVersion === '0.4.0'
      ? result.ips.map((ip) => ({ version: ip.address.includes(':') ? '6' : '4', ...ip }))
      : result.ips;
  return { ...result, ips };
}
