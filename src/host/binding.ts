import { RunbookError } from '../errors.js';
import { currentHost, oneShotSandboxPrefix } from './identity.js';
import type { HostIdentity } from '../journal/entries.js';
import { advice, runbookCommand } from '../suggestion.js';

/**
 * A journal describes changes made to one host. Replaying it anywhere else would create or
 * delete things that run never touched (rolling back a sandbox run on the real machine would
 * delete the real machine's container1), so resume and rollback refuse unless this process
 * acts on the very network namespace, hostname and sandbox the run recorded.
 */
/** Whether a run recorded on `recorded` belongs to the host this process acts on. */
export function isThisHost(recorded: HostIdentity): boolean {
  const here = currentHost();
  return recorded.netns === here.netns && recorded.hostname === here.hostname && recorded.sandbox === here.sandbox;
}

/** Runs made by `run --sandbox`: their host vanished with the command. */
export function isOneShotRun(recorded: HostIdentity): boolean {
  return recorded.sandbox?.startsWith(oneShotSandboxPrefix) === true;
}

export function assertSameHost(runId: string, recorded: HostIdentity): void {
  if (isThisHost(recorded)) return;
  const here = currentHost();
  const nothingChanged = 'nothing was changed';
  if (isOneShotRun(recorded)) {
    throw new RunbookError(
      'wrong-host',
      `run ${runId} was made in a one-shot --sandbox host, which no longer exists; ${nothingChanged}`,
      {
        hint: 'its changes vanished with that sandbox: there is nothing to resume or roll back. Start a new run instead.',
      },
    );
  }
  const where = (h: HostIdentity) =>
    `host ${h.hostname}, network namespace ${h.netns}${h.sandbox ? `, sandbox "${h.sandbox}"` : ''}`;
  throw new RunbookError(
    'wrong-host',
    `run ${runId} belongs to ${where(recorded)}, but this is ${where(here)}; ${nothingChanged}`,
    {
      hint: recorded.sandbox
        ? advice`act on it from inside its sandbox: ${runbookCommand('--in', recorded.sandbox, '…')}`
        : 'run the command on the host (and in the namespace) where the run was made',
    },
  );
}
