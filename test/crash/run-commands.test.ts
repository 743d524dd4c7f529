import { defineRunSweep, reference } from './sweep.js';

// The crash-point sweep (see ./sweep.ts) over the commands of a run: killed after command k
// finished and before its result was journaled (the effect happened, unrecorded), k in 1..C.
const ref = reference();
defineRunSweep(ref, { kind: 'command', part: 1, of: 1 });
