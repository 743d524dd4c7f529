import { expect } from 'vitest';
import { RunbookError } from '../../src/errors.js';

/** Runs fn, which must throw a RunbookError; returns it for assertions on code and message. */
export function thrown(fn: () => unknown): RunbookError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(RunbookError);
    return error as RunbookError;
  }
  throw new Error('expected a RunbookError, nothing was thrown');
}
