import { RunbookError } from '../errors.js';
import { succeeded, type Executor } from '../exec/types.js';
import { selfArgv } from '../exec/self.js';
import { envVar, readEnv } from '../env.js';
import { currentNetns, oneShotSandboxPrefix } from '../host/identity.js';
import { requireSandboxCaps } from '../host/privileges.js';
import { tutorialHostSetup } from './tutorial-host.js';

/** True in the process that `runbook run --sandbox` re-executed inside fresh namespaces. */
export function isInsideOneShotSandbox(): boolean {
  // Set in the re-executed process: "set up a sandbox host here, then run".
  return readEnv('oneShotOuterNetns') !== undefined;
}

/**
 * `--sandbox`: re-executes this very command line inside `unshare --net --mount`, so that
 * everything it does happens in a throwaway host that vanishes when the command ends.
 * Returns the inner command's exit code.
 */
export async function reexecInOneShotSandbox(args: readonly string[]): Promise<number> {
  requireSandboxCaps();
  const name = `${oneShotSandboxPrefix}${process.pid}`;
  // Loaded here, not at the top: every `runbook run` imports this file, few use --sandbox, and
  // attached.js loads execa, which a re-run never needs otherwise (docs/performance.md).
  const { runAttached } = await import('../exec/attached.js');
  const { exitCode, message } = await runAttached(
    ['unshare', '--net', '--mount', '--propagation', 'private', '--', ...selfArgv(args)],
    { [envVar.oneShotOuterNetns]: currentNetns(), [envVar.sandbox]: name },
  );
  if (exitCode !== undefined) return exitCode;
  throw new RunbookError('internal', `the sandbox host could not be started: ${message}`, {
    hint: 'is util-linux (unshare) installed?',
  });
}

/**
 * Refuses to go on unless this process really is in a network namespace other than the one
 * it was started from: the sandbox setup must never touch the real host.
 */
export function assertIsolated(): void {
  const outer = readEnv('oneShotOuterNetns');
  if (outer === undefined || outer === currentNetns()) {
    throw new RunbookError(
      'wrong-host',
      'refusing to set up a sandbox host: this process is not in a fresh network namespace; nothing was changed',
    );
  }
}

/** Turns the fresh namespaces this process runs in into a tutorial-like host. */
export async function setUpTutorialHost(executor: Executor): Promise<void> {
  assertIsolated();
  for (const argv of tutorialHostSetup) {
    const result = await executor.run({ argv, timeoutMs: 5_000 });
    if (!succeeded(result)) {
      throw new RunbookError(
        'internal',
        `setting up the sandbox host failed at: ${argv.join(' ')}: ${result.stderr.trim()}`,
      );
    }
  }
}
