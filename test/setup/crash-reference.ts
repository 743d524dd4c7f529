import type { TestProject } from 'vitest/node';
import { measureReference, type Reference } from '../helpers/cli-harness.js';

/**
 * Global setup of the crash tier: the reference run (how many entries and commands a run of
 * single-container makes, the sandbox before and after it) is measured once, in one fresh
 * sandbox host, and handed to every file of the sweep (test/crash/sweep.ts, `inject`).
 */

declare module 'vitest' {
  export interface ProvidedContext {
    crashReference: Reference;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  project.provide('crashReference', await measureReference('single-container'));
}
