import type { Executor } from '../exec/types.js';
import { currentHost } from '../host/identity.js';
import type { RunStore } from '../store/run-store.js';
import { buildTopology } from './build.js';
import type { Topology } from './model.js';
import { Ledger } from './provenance.js';
import { readKernel } from './read-kernel.js';
import { readRunsHere } from './runs-here.js';

export interface ReadTopologyOptions {
  executor: Executor;
  /** The state dir whose journals say who made what, as the door opened it. */
  store: RunStore;
  signal?: AbortSignal | undefined;
  /** A run id whose objects the picture highlights (`--run`). */
  highlight?: string | undefined;
  /** Told of runs that cannot be read (damaged). */
  onNote?: ((note: string) => void) | undefined;
}

/**
 * `runbook topology` (issue 29): the host as the kernel holds it now, each piece marked with
 * the run that made it. Read-only: `ip`, `iptables -S` and /proc are read through the
 * executor, the journals through runs-here.ts; nothing is changed, locked or reverted.
 */
export async function readTopology(options: ReadTopologyOptions): Promise<Topology> {
  const reading = await readKernel(options.executor, options.signal);
  const ledger = Ledger.of(readRunsHere(options.store, options.onNote ?? (() => undefined)));
  return buildTopology({ reading, ledger, host: currentHost(), highlight: options.highlight });
}
