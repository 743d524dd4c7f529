import { CniError, cniErrorCodes, supportedVersions, type CniVersion, type Dns } from './protocol.js';

/**
 * The network configuration a runtime streams on stdin (docs/cni.md lists the keys): the spec's
 * own keys, and runbook's, which name the runbooks and their parameters. Checked by hand rather
 * than with the schema library: a plugin call is on the path of every container start, and the
 * schema's module costs more to load than this whole check (docs/performance.md).
 */
export interface NetworkConfig {
  cniVersion: CniVersion;
  /** The network's name: the key of its state (the state dir, host-local's data dir). */
  name: string;
  /** The runbook run for each container (ADD), rolled back for its DEL: a name or an absolute path. */
  runbook: string;
  /** The runbook of what the network's containers share, run before the first ADD and kept. */
  networkRunbook: string | undefined;
  /** Parameter values for the runbooks (each gets those it declares). */
  params: Record<string, string>;
  /** Where this plugin keeps its runs (a state dir per network under it). */
  stateDir: string | undefined;
  /** How long a call waits for another one on this host before "try again later". */
  lockTimeoutMs: number;
  /** The `ipam` section, handed to the IPAM plugin it names. */
  ipam: { type: string } | undefined;
  dns: Dns | undefined;
  /** The result of the previous ADD (CHECK, DEL), when the runtime passes it. */
  prevResult: Record<string, unknown> | undefined;
}

/** The shipped pair, used when the configuration names no runbook. */
export const defaultRunbooks = { runbook: 'cni-bridge', networkRunbook: 'cni-bridge-network' } as const;

export const defaultLockTimeoutMs = 60_000;

/** Keys the spec defines, that a runtime may add, or that this plugin reads. */
const knownKeys = new Set([
  'cniVersion',
  'name',
  'type',
  'runbook',
  'networkRunbook',
  'params',
  'stateDir',
  'lockTimeoutSeconds',
  'ipam',
  'dns',
  'args',
  'runtimeConfig',
  'capabilities',
  'prevResult',
  'ipMasq',
]);

/** The spec's rule for a network name (and a container id): it also makes a safe directory name. */
export const cniNamePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** A runbook name (looked up on the search path), or the absolute path of a runbook file. */
const runbookPattern = /^(?:[A-Za-z0-9._-]+|\/.+\.ya?ml)$/;

/** Reads the configuration's JSON text; every problem is the spec's error with its code. */
export function parseNetworkConfig(text: string): NetworkConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new CniError(
      cniErrorCodes.decodingFailure,
      'the network configuration on stdin is not JSON',
      (error as Error).message,
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new CniError(cniErrorCodes.decodingFailure, 'the network configuration on stdin is not a JSON object');
  const conf = raw as Record<string, unknown>;

  const cniVersion = conf.cniVersion;
  if (typeof cniVersion !== 'string' || !(supportedVersions as readonly string[]).includes(cniVersion)) {
    throw new CniError(
      cniErrorCodes.incompatibleVersion,
      `cniVersion ${JSON.stringify(cniVersion)} is not supported`,
      `this plugin speaks CNI ${supportedVersions.join(' and ')}`,
    );
  }
  for (const key of Object.keys(conf)) {
    if (!knownKeys.has(key))
      throw new CniError(
        cniErrorCodes.unsupportedField,
        `unsupported field ${JSON.stringify(key)}: ${clip(JSON.stringify(conf[key]))}`,
        `the fields this plugin reads are listed in docs/cni.md`,
      );
  }
  // The reference plugins' ipMasq: this plugin's masquerade is the network runbook's step, always there.
  if (conf.ipMasq !== undefined && conf.ipMasq !== true)
    throw new CniError(
      cniErrorCodes.unsupportedField,
      `unsupported field "ipMasq": ${clip(JSON.stringify(conf.ipMasq))}`,
      'cni-bridge-network always masquerades its subnet; a network without it needs a runbook of your own',
    );

  const name = requiredString(conf, 'name');
  if (!cniNamePattern.test(name))
    throw invalid(
      `name ${JSON.stringify(name)} is not a network name`,
      'a letter or digit, then letters, digits, _, . or -',
    );
  const runbook = optionalString(conf, 'runbook') ?? defaultRunbooks.runbook;
  const networkRunbook =
    optionalString(conf, 'networkRunbook') ?? (conf.runbook === undefined ? defaultRunbooks.networkRunbook : undefined);
  for (const [key, value] of [
    ['runbook', runbook],
    ['networkRunbook', networkRunbook],
  ] as const) {
    if (value !== undefined && !runbookPattern.test(value))
      throw invalid(
        `${key} ${JSON.stringify(value)} is not a runbook`,
        'a name (letters, digits, ., _ and -) or the absolute path of a .yaml file',
      );
  }

  const stateDir = optionalString(conf, 'stateDir');
  if (stateDir !== undefined && !stateDir.startsWith('/'))
    throw invalid(`stateDir ${JSON.stringify(stateDir)} is not an absolute path`);

  const lockTimeout = conf.lockTimeoutSeconds;
  if (lockTimeout !== undefined && !(typeof lockTimeout === 'number' && lockTimeout >= 0 && lockTimeout <= 3600))
    throw invalid(`lockTimeoutSeconds ${clip(JSON.stringify(lockTimeout))} is not a number of seconds from 0 to 3600`);

  return {
    cniVersion: cniVersion as CniVersion,
    name,
    runbook,
    networkRunbook,
    params: paramsOf(conf.params),
    stateDir,
    lockTimeoutMs: lockTimeout === undefined ? defaultLockTimeoutMs : Math.round((lockTimeout as number) * 1000),
    ipam: ipamOf(conf.ipam),
    dns: objectOrUndefined(conf, 'dns') as Dns | undefined,
    prevResult: objectOrUndefined(conf, 'prevResult'),
  };
}

/** `params`: an object of strings (numbers and booleans are written as text). */
function paramsOf(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid('params is not an object of parameter values');
  const params: Record<string, string> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      throw invalid(`params.${key} is not a string, number or boolean`);
    params[key] = String(v);
  }
  return params;
}

function ipamOf(value: unknown): { type: string } | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('ipam is not an object');
  const type = (value as Record<string, unknown>).type;
  // The IPAM type is a file name looked up on CNI_PATH: never a path.
  if (typeof type !== 'string' || !cniNamePattern.test(type))
    throw invalid(`ipam.type ${clip(JSON.stringify(type))} is not a plugin name`);
  return value as { type: string };
}

function requiredString(conf: Record<string, unknown>, key: string): string {
  const value = conf[key];
  if (typeof value !== 'string' || value === '') throw invalid(`${key} is missing or not a string`);
  return value;
}

function optionalString(conf: Record<string, unknown>, key: string): string | undefined {
  const value = conf[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw invalid(`${key} is not a non-empty string`);
  return value;
}

function objectOrUndefined(conf: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const value = conf[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${key} is not an object`);
  return value as Record<string, unknown>;
}

function invalid(message: string, details?: string): CniError {
  return new CniError(cniErrorCodes.invalidConfig, `invalid network configuration: ${message}`, details);
}

/** A value shown in a message, never a page of it. */
function clip(text: string | undefined): string {
  if (text === undefined) return 'undefined';
  return text.length <= 80 ? text : `${text.slice(0, 77)}...`;
}
