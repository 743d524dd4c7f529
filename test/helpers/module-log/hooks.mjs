// Module hooks for tests: appends the URL of every module the process loads to $RUNBOOK_TEST_MODULE_LOG.
import { appendFileSync } from 'node:fs';

export async function load(url, context, nextLoad) {
  appendFileSync(process.env.RUNBOOK_TEST_MODULE_LOG, `${url}\n`);
  return nextLoad(url, context);
}
