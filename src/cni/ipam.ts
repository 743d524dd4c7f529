import { accessSync, constants, statSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import path from 'node:path';
import { callPlugin } from '../exec/cni-plugin.js';
import type { NetworkConfig } from './config.js';
import { CniError, cniEnv, cniErrorCodes, type Dns } from './protocol.js';
import type { CniRequest } from './request.js';

/**
 * IPAM by delegation, as the reference plugins do it: the configuration's `ipam` section names an
 * IPAM plugin (host-local, …), found on CNI_PATH and run with the same environment and the same
 * configuration, CNI_COMMAND set to the verb. Its ADD result feeds the runbooks' parameters; its
 * DEL runs after the rollback of the container's run (and after an ADD that failed).
 */

/** What the IPAM plugin allocated, as the runbooks take it. */
export interface Lease {
  /** The container's address and prefix length: 10.89.0.5/24. */
  address: string;
  gateway: string;
  dns: Dns | undefined;
}

/** How long a delegated IPAM call may take (a DHCP lease can take seconds). */
const ipamTimeoutMs = 60_000;

export async function ipamAdd(request: CniRequest, config: NetworkConfig, stdin: string): Promise<Lease> {
  const result = await callIpam('ADD', request, config, stdin);
  return leaseOf(result, config.ipam?.type ?? '?');
}

/** Releases the attachment's allocation; the plugin treats "nothing allocated" as done (the spec's DEL). */
export async function ipamDel(request: CniRequest, config: NetworkConfig, stdin: string): Promise<void> {
  await callIpam('DEL', request, config, stdin);
}

/** The IPAM plugin's own CHECK: is the allocation still held? */
export async function ipamCheck(request: CniRequest, config: NetworkConfig, stdin: string): Promise<void> {
  await callIpam('CHECK', request, config, stdin);
}

async function callIpam(
  command: 'ADD' | 'DEL' | 'CHECK',
  request: CniRequest,
  config: NetworkConfig,
  stdin: string,
): Promise<Record<string, unknown>> {
  const type = config.ipam?.type;
  if (type === undefined) throw new CniError(cniErrorCodes.internal, 'no ipam section to delegate to');
  const file = findPlugin(type, request.path);
  const outcome = await callPlugin({
    file,
    // The spec: the IPAM plugin gets all the variables this plugin got, the verb set for this call.
    env: { ...request.env, [cniEnv.command]: command },
    stdin,
    timeoutMs: ipamTimeoutMs,
  });
  const parsed = parseObject(outcome.stdout);
  if (outcome.exitCode === 0) return parsed ?? {};
  // The IPAM plugin's own error object goes to the runtime as it came, its code kept.
  const code = typeof parsed?.code === 'number' ? parsed.code : cniErrorCodes.internal;
  const what = outcome.timedOut
    ? `timed out after ${ipamTimeoutMs / 1000} s`
    : (outcome.startError ??
      (typeof parsed?.msg === 'string' ? parsed.msg : `exited ${outcome.exitCode ?? outcome.signal}`));
  const details = typeof parsed?.details === 'string' ? parsed.details : outcome.stderr.trim() || undefined;
  throw new CniError(code, `IPAM plugin ${type} ${command}: ${what}`, details);
}

/** The first executable named `type` in the CNI_PATH directories, as libcni looks plugins up. */
function findPlugin(type: string, dirs: readonly string[]): string {
  for (const dir of dirs) {
    const file = path.join(dir, type);
    try {
      if (statSync(file).isFile()) {
        accessSync(file, constants.X_OK);
        return file;
      }
    } catch {
      // not there, or not executable: the next directory
    }
  }
  throw new CniError(
    cniErrorCodes.invalidConfig,
    `IPAM plugin ${JSON.stringify(type)} is not in ${cniEnv.path} (${dirs.join(':') || 'empty'})`,
    'install it (Debian: containernetworking-plugins) or fix ipam.type',
  );
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One IPv4 address with its gateway, and at most a default route: what cni-bridge sets up. Any
 * other allocation is refused rather than half applied (the caller releases it).
 */
function leaseOf(result: Record<string, unknown>, type: string): Lease {
  const ips = Array.isArray(result.ips) ? (result.ips as Array<Record<string, unknown>>) : [];
  const unsupported = (what: string) =>
    new CniError(
      cniErrorCodes.invalidConfig,
      `IPAM plugin ${type} returned ${what}`,
      'this plugin configures one IPv4 address per container, with its gateway, and a default route via the gateway',
    );
  if (ips.length !== 1) throw unsupported(`${ips.length} addresses`);
  const ip = ips[0] as Record<string, unknown>;
  const address = typeof ip.address === 'string' ? ip.address : '';
  const [host, prefix] = address.split('/');
  if (host === undefined || !isIPv4(host) || prefix === undefined || !/^(?:[0-9]|[12][0-9]|3[0-2])$/.test(prefix))
    throw unsupported(`the address ${JSON.stringify(ip.address)}, not an IPv4 address with a prefix length`);
  const gateway = ip.gateway;
  if (typeof gateway !== 'string' || !isIPv4(gateway))
    throw unsupported('no IPv4 gateway (host-local: set ranges[].gateway, or leave it to its default)');
  const routes = Array.isArray(result.routes) ? (result.routes as Array<Record<string, unknown>>) : [];
  for (const route of routes) {
    if (route.dst !== '0.0.0.0/0' || (route.gw !== undefined && route.gw !== gateway))
      throw unsupported(`the route ${JSON.stringify(route)}`);
  }
  const dns = typeof result.dns === 'object' && result.dns !== null ? (result.dns as Dns) : undefined;
  return { address, gateway, dns: dns !== undefined && Object.keys(dns).length > 0 ? dns : undefined };
}
