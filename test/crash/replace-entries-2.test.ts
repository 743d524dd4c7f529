import { defineReplaceSweep, replaceReference } from './sweep.js';

// The crash-point sweep of a replace (issue 23; see ./sweep.ts), part 2 of 2: single-container
// re-applied with other values and --replace, killed right after each entry it appends, then
// resumed; `rollback --all` straight after the crash at every 10th point.
defineReplaceSweep(replaceReference(), { part: 2, of: 2, rollbackEvery: 10 });
