import path from 'node:path';
import { RunStore, type StoreAccess } from '../../src/store/run-store.js';
import { trustedUsers } from '../../src/trust/trusted-users.js';

/**
 * A run store on `dir` for tests of the engine, made without the door's trust checks: those
 * tests are about steps, journals and locks, and some plant exactly what the door would refuse
 * (a stale lock, a linked temporary) to see what the engine does with it. The door itself is
 * tested in test/journal/state-dir-trust.test.ts and test/integration/one-door.test.ts.
 */
export function storeAt(dir: string, access: StoreAccess = 'write'): RunStore {
  return new RunStore(path.resolve(dir), access, trustedUsers());
}
