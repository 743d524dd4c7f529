import { spawnLight, spawnReadOnly } from '../exec/fast-spawn.js';
import { readFileInProcess } from '../exec/read-file.js';
import type { CommandRequest, CommandResult, Executor } from '../exec/types.js';
import { acquireHostLock } from './host-lock.js';
import { resolvesOnPath } from './preflight.js';

/**
 * The executor the CLI runs runbooks with. A `read:` check reads its file in-process. Read-only commands (checks, preconditions, probes)
 * without stdin take the light path of fast-spawn.ts; commands that change the host (do, undo, capture) go
 * through execa, loaded on first use, so that a re-run or `check`, which changes nothing,
 * never loads it.
 */
export function createHostExecutor(options: { light?: boolean } = {}): Executor {
  let changing: Promise<Executor> | undefined;
  return {
    resolves: (program) => resolvesOnPath(program),
    lockHost: acquireHostLock,
    async run(request: CommandRequest): Promise<CommandResult> {
      if (request.read !== undefined) return readFileInProcess(request);
      // `light`: every command on the light path (the CNI plugin: fast-spawn.ts says why).
      if (options.light === true) return spawnLight(request);
      if (request.readOnly === true && request.input === undefined) return spawnReadOnly(request);
      changing ??= import('../exec/execa-executor.js').then((m) => m.createExecaExecutor());
      return (await changing).run(request);
    },
  };
}
