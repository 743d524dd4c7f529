import { RunbookError } from '../errors.js';
import { currentHost } from '../host/identity.js';
import type { LoadedRunbook } from '../runbook/load.js';
import { readIncludeFromDisk, resolveRunbookToRun } from '../runbook/locate.js';
import type { ParamValues } from '../runbook/params.js';
import type { Plan } from '../plan/plan.js';
import { prepareRunbookCached } from '../runbook/prepare-cached.js';
import type { RunStore } from '../store/run-store.js';
import { findRunbook, readRunbookText, runbookSearchPath, untrustedReason } from '../runbook/search-path.js';
import { advice, runbookCommand, type Advice } from '../suggestion.js';
import { CniError, cniErrorCodes } from './protocol.js';

/**
 * The runbooks a network configuration names, loaded and checked before the host is touched (a
 * bad runbook must not cost an IPAM allocation), and rendered with the values of one call.
 */

/** The parameters the plugin itself supplies to a container's runbook: a runbook must declare the first two. */
export const containerParams = [
  'container_id',
  'ifname',
  'netns',
  'host_veth',
  'host_mac',
  'container_mac',
  'address',
  'gateway',
] as const;

/** …and to the network's runbook. */
export const networkParams = ['bridge_mac', 'gateway_cidr', 'subnet'] as const;

/**
 * Finds and reads a runbook the configuration names. A name is looked up on $RUNBOOK_PATH (the
 * runtime's environment) and among the shipped runbooks, never in the runtime's current
 * directory (whatever it is, it is not where a network's configuration points); an absolute
 * path is used as given. Parse errors are the spec's "invalid network config".
 *
 * Every call of a network reads the same runbooks: they come from the plan cache of the
 * network's state dir (src/runbook/plan-cache.ts, keyed by the file's text, trusted like a
 * journal), so that only the first call parses YAML and validates it — which took a fifth of an
 * ADD (docs/cni.md). A runbook with a parameter that has no default has no plan to cache, and
 * is parsed every time.
 */
export async function loadCniRunbook(nameOrPath: string, store: RunStore): Promise<LoadedRunbook> {
  const file = asConfigError(() =>
    nameOrPath.startsWith('/') ? resolveRunbookToRun(nameOrPath) : fileOfName(nameOrPath),
  );
  const inSandbox = currentHost().sandbox !== undefined;
  try {
    const prepared = await prepareRunbookCached(file, [], { inSandbox, store });
    prepared.remember();
    return prepared.runbook;
  } catch (error) {
    if (!(error instanceof RunbookError && error.code === 'invalid-input')) throw error;
    // No plan with its defaults alone (a parameter without one): the runbook itself, parsed.
    const { parseRunbook } = await import('../runbook/load.js');
    return asConfigError(() => parseRunbook(readRunbookText(file), file, readIncludeFromDisk));
  }
}

function fileOfName(name: string): string {
  const searchPath = runbookSearchPath().filter((dir) => dir.origin !== './runbooks');
  const found = findRunbook(name, searchPath);
  if (found === undefined)
    throw new CniError(
      cniErrorCodes.invalidConfig,
      `unknown runbook ${JSON.stringify(name)}: not in $RUNBOOK_PATH nor among the shipped runbooks`,
      advice`name a shipped runbook (${runbookCommand('list')}), put yours in a $RUNBOOK_PATH directory, or give its absolute path`,
    );
  const untrusted = untrustedReason(found);
  if (untrusted !== undefined)
    throw new CniError(cniErrorCodes.invalidConfig, `refusing runbook ${JSON.stringify(name)}: ${untrusted}`);
  return found.file;
}

/**
 * The values a runbook gets: of what the plugin offers and what the configuration's `params`
 * give, those it declares; the rest is its defaults. The configuration may not set what the
 * plugin supplies.
 */
export function valuesFor(
  runbook: LoadedRunbook,
  offered: Readonly<Record<string, string>>,
  configured: Readonly<Record<string, string>>,
): Record<string, string> {
  const declared = runbook.spec.parameters;
  const values: Record<string, string> = {};
  for (const source of [configured, offered]) {
    for (const [key, value] of Object.entries(source)) if (Object.hasOwn(declared, key)) values[key] = value;
  }
  return values;
}

/** Every key of the configuration's `params` must be a parameter of one of the runbooks, and not one the plugin sets. */
export function checkConfiguredParams(
  configured: Readonly<Record<string, string>>,
  runbooks: readonly LoadedRunbook[],
): void {
  const supplied = new Set<string>([...containerParams, ...networkParams]);
  for (const key of Object.keys(configured)) {
    if (supplied.has(key))
      throw new CniError(
        cniErrorCodes.invalidConfig,
        `invalid network configuration: params.${key} is set by the plugin, from the call and the IPAM result`,
        `the plugin sets ${[...supplied].join(', ')}`,
      );
    if (!runbooks.some((r) => Object.hasOwn(r.spec.parameters, key)))
      throw new CniError(
        cniErrorCodes.invalidConfig,
        `invalid network configuration: params.${key} is not a parameter of ${runbooks.map((r) => r.spec.name).join(' or ')}`,
        `their parameters: ${[...new Set(runbooks.flatMap((r) => Object.keys(r.spec.parameters)))].join(', ')}`,
      );
  }
}

/** A container's runbook must record which container and interface its run is for. */
export function checkContainerRunbook(runbook: LoadedRunbook): void {
  const missing = ['container_id', 'ifname'].filter((key) => !Object.hasOwn(runbook.spec.parameters, key));
  if (missing.length > 0)
    throw new CniError(
      cniErrorCodes.invalidConfig,
      `runbook ${runbook.spec.name} does not declare ${missing.join(' and ')}: the plugin could not find its runs again for DEL and CHECK`,
      'declare them as parameters (type string and interface), as cni-bridge does',
    );
}

/** The parameters checked and the plan rendered, as `runbook run` does it. */
export async function renderFor(
  runbook: LoadedRunbook,
  values: Readonly<Record<string, string>>,
): Promise<{ params: ParamValues; plan: Plan }> {
  const [{ resolveParams }, { renderPlan }] = await Promise.all([
    import('../runbook/params.js'),
    import('../runbook/render.js'),
  ]);
  return asConfigError(() => {
    const params = resolveParams(runbook.spec, values, runbook.file, {
      inSandbox: currentHost().sandbox !== undefined,
    });
    return { params, plan: renderPlan(runbook.spec, params) };
  });
}

/** The runbook's own "invalid input" (a bad parameter, a malformed file) as the spec's "invalid network config". */
function asConfigError<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof Error && (error as { code?: unknown }).code === 'invalid-input')
      throw new CniError(
        cniErrorCodes.invalidConfig,
        `invalid network configuration: ${error.message}`,
        (error as { hint?: Advice }).hint,
      );
    throw error;
  }
}
