import { defineRollbackSweep, reference } from './sweep.js';

// The crash-point sweep (see ./sweep.ts) over a rollback: after a complete run, the rollback is
// killed right after each of its journal entries in turn, then a second rollback must finish it.
const ref = reference();
defineRollbackSweep(ref, { part: 1, of: 1 });
