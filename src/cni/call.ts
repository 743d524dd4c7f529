import type { FindOwners } from '../engine/foreign-contents.js';
import type { Executor } from '../exec/types.js';
import type { RunStore } from '../store/run-store.js';
import type { Attachment, AttachmentNames } from './attachment.js';
import type { NetworkConfig } from './config.js';
import type { CniRequest } from './request.js';

/** One ADD, DEL or CHECK, with everything its verb needs. */
export interface CniCall {
  request: CniRequest;
  config: NetworkConfig;
  /** The configuration exactly as it came on stdin: handed on unchanged to the IPAM plugin. */
  stdin: string;
  /** The network's state dir, opened through the door (cni-state.ts). */
  store: RunStore;
  executor: Executor;
  /** Aborted by SIGTERM or SIGINT: the engine stops at its next safe point. */
  signal: AbortSignal;
  attachment: Attachment;
  names: AttachmentNames;
  /**
   * Names the runs (of this state dir and the host's others) that made what a rollback found in
   * a container it was to delete, for a refusal's evidence; given by the edge (the CLI's
   * src/cli/run-owners.ts), as the CLI gives it to the engine.
   */
  findOwners?: ((store: RunStore) => FindOwners) | undefined;
  /** The runs the call made or acted on, for the calls log. */
  runs: string[];
}
