import { renderAdvice, type Render, type UserContext } from '../../src/cli/render-advice.js';
import type { RunbookError } from '../../src/errors.js';

/** A user on a plain host, root, with the default state dir: suggestions are printed as written. */
export const onPlainHost: UserContext = {
  place: { kind: 'host' },
  stateDir: { given: 'default' },
  isRoot: true,
  commandLine: [],
  invokedAs: 'runbook',
};

/** Advice as that user reads it. */
export const renderPlain: Render = (advice) => renderAdvice(advice, onPlainHost);

/** An error's hint as that user reads it. */
export function hintText(error: RunbookError): string | undefined {
  return error.hint === undefined ? undefined : renderPlain(error.hint);
}
