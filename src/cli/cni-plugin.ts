import { cniEnv } from '../cni/protocol.js';
import { cniMain } from '../cni/main.js';
import type { Advice } from '../suggestion.js';
import { renderAdvice, userContextOf } from './render-advice.js';
import { ownerFinder } from './run-owners.js';

/**
 * The edge of `runbook-cni`, the CNI plugin (docs/cni.md), as src/cli/main.ts is the edge of
 * `runbook`: what the process gives (the runtime's variables, stdin, signals) is read here, and
 * the plugin's work is src/cni/main.ts. A suggestion in an error's details is rendered for the
 * operator who reads the runtime's error: a `runbook` command names the network's state dir,
 * where the plugin keeps its runs (a bare `runbook rollback ID` would look in another).
 */
export async function cniPluginMain(): Promise<number> {
  const env = process.env;
  // Run by a person rather than a runtime: say what this is, on stderr (no runtime reads it then).
  if (env[cniEnv.command] === undefined && process.stdin.isTTY === true)
    process.stderr.write(
      'runbook-cni is a CNI plugin: a container runtime runs it, with CNI_COMMAND and the others set and the network configuration on stdin (docs/cni.md)\n',
    );
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    return await cniMain({
      env,
      readStdin,
      out: (text) => process.stdout.write(text),
      render: (advice: string | Advice, stateDir: string | undefined) =>
        renderAdvice(advice, userContextOf(stateDir, env)),
      signal: interrupt.signal,
      // Whose things a refused rollback found, named as `runbook rollback` names them.
      findOwners: ownerFinder,
    });
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
