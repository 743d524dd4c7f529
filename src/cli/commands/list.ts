import { listRunbookNames, loadRunbook } from '../../runbook/load.js';
import type { CliContext } from '../context.js';

/** `runbook list`: the runbooks shipped in runbooks/, with their descriptions. */
export function listCommand(ctx: CliContext): number {
  for (const name of listRunbookNames()) {
    const { spec } = loadRunbook(name);
    ctx.out(`${name.padEnd(20)} ${spec.description}`);
  }
  return 0;
}
