import { defineRunSweep, reference } from './sweep.js';

// The crash-point sweep (see ./sweep.ts), part 2 of 4 of the journal entries of a run:
// killed right after entry n (durable on disk; nothing after it is), for n in this quarter of 1..E.
const ref = reference();
defineRunSweep(ref, { kind: 'entry', part: 2, of: 4 });
