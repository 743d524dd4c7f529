import type { TestProject } from 'vitest/node';
import {
  measureReference,
  measureReplaceReference,
  type Reference,
  type ReplaceReference,
} from '../helpers/cli-harness.js';

/**
 * Global setup of the crash tier: the reference run (how many entries and commands a run of
 * single-container makes, the sandbox before and after it) is measured once, in one fresh
 * sandbox host, and handed to every file of the sweep (test/crash/sweep.ts, `inject`); so is the
 * reference of a replace (issue 23): single-container applied, then replaced with new values.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    crashReference: Reference;
    replaceReference: ReplaceReference;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  project.provide('crashReference', await measureReference('single-container'));
  project.provide('replaceReference', await measureReplaceReference());
}
