import { execa } from 'execa';

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
 * only, never a shell; stopped at `timeoutMs`.
 */
export async function callPlugin(call: {
  file: string;
  env: Readonly<Record<string, string | undefined>>;
  stdin: string;
  timeoutMs: number;
}): Promise<PluginOutcome> {
  const result = await execa(call.file, [], {
    reject: false,
    input: call.stdin,
    extendEnv: false,
    env: call.env,
    timeout: call.timeoutMs,
    stripFinalNewline: false,
  });
  const started = !(result.exitCode === undefined && result.signal === undefined && !result.timedOut);
  return {
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    timedOut: result.timedOut,
    startError: started ? undefined : result.shortMessage,
  };
}
