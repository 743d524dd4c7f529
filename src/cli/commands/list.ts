import { ExitCode, RunbookError } from '../../errors.js';
import { loadRunbook } from '../../runbook/load.js';
import { findRunbooks, untrustedReason } from '../../runbook/search-path.js';
import { defineCommand } from '../command-spec.js';
import type { CliContext } from '../context.js';
import { runbookCommand } from '../../suggestion.js';
import type { Render } from '../render-advice.js';
import { flag, type OptionsOf } from '../option-spec.js';

const listOptions = { json: flag('--json', 'print JSON: name, description, origin, file, refused, shadows') };

export const command = defineCommand({
  name: 'list',
  description:
    'list the runbooks: ./runbooks, then $RUNBOOK_PATH dirs, then the shipped ones; where each comes from and what it shadows',
  options: listOptions,
  stateDir: 'none',
  action: (ctx, _args, options) => listCommand(ctx, options),
});

/**
 * `runbook list`: every runbook a name finds (./runbooks, $RUNBOOK_PATH, shipped), with its
 * description, where it comes from, and the files of the same name it hides.
 */
export function listCommand(ctx: CliContext, options: OptionsOf<typeof listOptions> = {}): number {
  if (options.json) {
    const runbooks = findRunbooks().map((found) => {
      const refused = untrustedReason(found);
      return {
        name: found.name,
        description: refused === undefined ? describe(found.file, ctx.render) : null,
        origin: found.origin,
        file: found.file,
        refused: refused ?? null,
        shadows: found.shadows.map((hidden) => ({ origin: hidden.origin, file: hidden.file })),
      };
    });
    ctx.out(JSON.stringify(runbooks));
    return ExitCode.ok;
  }
  for (const found of findRunbooks()) {
    const untrusted = untrustedReason(found);
    const description = untrusted === undefined ? describe(found.file, ctx.render) : `(refused: ${untrusted})`;
    const from = found.origin === 'shipped' ? '' : `  [${found.origin}: ${found.file}]`;
    ctx.out(`${found.name.padEnd(20)} ${description}${from}`);
    for (const hidden of found.shadows) ctx.out(`${''.padEnd(20)}   shadows ${hidden.origin}: ${hidden.file}`);
  }
  return ExitCode.ok;
}

/** A runbook's description; a broken one is listed too (`show` gives its errors), not fatal to the list. */
function describe(file: string, render: Render): string {
  try {
    return loadRunbook(file).spec.description;
  } catch (error) {
    if (error instanceof RunbookError) return `(invalid: \`${render(runbookCommand('show', file))}\` says why)`;
    throw error;
  }
}
