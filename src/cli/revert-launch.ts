import type { RevertLaunch } from '../engine/confirm-within/guard.js';
import { envVar, readEnv } from '../env.js';
import { selfArgv } from '../exec/self.js';
import { systemdCanRevertHere } from '../host/init-system.js';
import type { RunStore } from '../store/run-store.js';

/**
 * How this program is started to keep a `--confirm-within` deadline (issue 24), handed to the
 * engine, which never knows the hidden commands: `__watchdog RUN-ID` (a detached process that
 * sleeps until the deadline) or `__revert-due RUN-ID UNIT` (what a systemd timer's service runs
 * at the deadline). Both name the state dir, so that they open it through the same door as
 * every command (src/cli/door.ts): trusted before anything is read.
 */
export function revertLaunch(store: RunStore): RevertLaunch {
  // The crash sweep's fault injection, for the reverting process only (never the run's own).
  const fault = readEnv('watchdogFaultKill');
  const faultEnv = fault === undefined ? {} : { [envVar.faultKill]: fault };
  return {
    prefer: preferredGuard(),
    watchdog: (runId) => {
      const env: Record<string, string | undefined> = { ...process.env };
      delete env[envVar.faultKill];
      delete env[envVar.watchdogFaultKill];
      return { argv: selfArgv(['--state-dir', store.dir, '__watchdog', runId]), env: { ...env, ...faultEnv } };
    },
    atDeadline: (runId, unit) => ({
      argv: selfArgv(['--state-dir', store.dir, '__revert-due', runId, unit]),
      // The same programs as the run found (systemd's own PATH may differ).
      env: { PATH: process.env.PATH, ...faultEnv },
    }),
  };
}

/** RUNBOOK_REVERT_GUARD, or a timer where systemd can revert runs made here. */
function preferredGuard(): RevertLaunch['prefer'] {
  const asked = readEnv('revertGuard');
  if (asked === 'timer' || asked === 'watchdog') return asked;
  return systemdCanRevertHere() ? 'timer' : 'watchdog';
}
