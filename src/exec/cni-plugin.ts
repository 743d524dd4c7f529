import { spawnLight } from './fast-spawn.js';

/** How a delegated CNI plugin (an IPAM plugin) ended. */
export interface PluginOutcome {
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when it could not be started at all. */
  startError: string | undefined;
}

/**
 * Runs a CNI plugin executable as a runtime would: no arguments, the CNI_* variables in its
 * environment, the network configuration on stdin, its result or error object on stdout. Argv
 * only, never a shell; stopped at `timeoutMs`, with what it started. On the light spawn path,
 * as the plugin's other commands (fast-spawn.ts).
 */
export async function callPlugin(call: {
  file: string;
  env: Readonly<Record<string, string | undefined>>;
  stdin: string;
  timeoutMs: number;
}): Promise<PluginOutcome> {
  const result = await spawnLight({ argv: [call.file], timeoutMs: call.timeoutMs, input: call.stdin }, call.env);
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
    timedOut: result.timedOut,
    startError: result.startError,
  };
}
