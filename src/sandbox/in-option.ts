/**
 * What `runbook --in <sandbox>` needs to know before loading anything heavy: whether this
 * command line asks for a sandbox, or this process was started inside one by --in (and must
 * check it really is, see enter.ts). Kept free of heavy imports so that start-up stays cheap.
 */
import { readEnv } from '../env.js';

/** The sandbox `runbook sandbox …` acts on when no name is given. */
export const defaultSandboxName = 'lab';

/** True when the sandbox machinery has something to do for this command line and process. */
export function concernsSandbox(argv: readonly string[]): boolean {
  const end = argv.indexOf('--') === -1 ? argv.length : argv.indexOf('--');
  const asksIn = argv.slice(0, end).some((t) => t === '--in' || t.startsWith('--in='));
  return asksIn || readEnv('inNetns') !== undefined || readEnv('inOuterNetns') !== undefined;
}
