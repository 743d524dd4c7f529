import { cniNamePattern } from './config.js';
import { CniError, cniEnv, cniErrorCodes } from './protocol.js';

/** One call of the plugin, as the runtime's environment describes it. */
export interface CniRequest {
  command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION';
  containerId: string;
  /** The container's network namespace, a path; empty for a DEL whose namespace is gone. */
  netns: string;
  ifname: string;
  /** CNI_PATH split: where the IPAM plugin is looked up. */
  path: string[];
  /** Every variable the runtime gave: the IPAM plugin gets them all (the spec's delegation). */
  env: Readonly<Record<string, string | undefined>>;
}

const commands = new Set(['ADD', 'DEL', 'CHECK', 'VERSION']);

/**
 * Reads and checks the CNI_* variables for `command` (the spec's error 4 names each bad one).
 * DEL may come without a namespace (the spec: clean up what can be cleaned); ADD and CHECK need
 * all of them.
 */
export function parseRequest(env: Readonly<Record<string, string | undefined>>): CniRequest {
  const command = env[cniEnv.command] ?? '';
  if (!commands.has(command))
    throw new CniError(
      cniErrorCodes.invalidEnvironment,
      `${cniEnv.command} is ${command === '' ? 'not set' : JSON.stringify(command)}: expected ADD, DEL, CHECK or VERSION`,
    );
  const request: CniRequest = {
    command: command as CniRequest['command'],
    containerId: env[cniEnv.containerId] ?? '',
    netns: env[cniEnv.netns] ?? '',
    ifname: env[cniEnv.ifname] ?? '',
    path: (env[cniEnv.path] ?? '').split(':').filter((dir) => dir !== ''),
    env,
  };
  if (request.command === 'VERSION') return request;

  const bad: string[] = [];
  if (!cniNamePattern.test(request.containerId))
    bad.push(`${cniEnv.containerId} (a letter or digit, then letters, digits, _, . or -)`);
  if (!isInterfaceName(request.ifname))
    bad.push(`${cniEnv.ifname} (1 to 15 bytes, not . or .., no /, : or whitespace)`);
  const netnsNeeded = request.command !== 'DEL';
  if ((netnsNeeded || request.netns !== '') && !isNormalAbsolutePath(request.netns))
    bad.push(`${cniEnv.netns} (the absolute path of the container's network namespace)`);
  if (bad.length > 0)
    throw new CniError(cniErrorCodes.invalidEnvironment, `invalid or missing environment variables: ${bad.join(', ')}`);
  return request;
}

/** The spec's rule for an interface name, which is the kernel's. */
function isInterfaceName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && Buffer.byteLength(name) <= 15 && !/[/:\s]/.test(name);
}

function isNormalAbsolutePath(value: string): boolean {
  return (
    value.startsWith('/') &&
    !value
      .split('/')
      .slice(1)
      .some((part) => ['', '.', '..'].includes(part))
  );
}
