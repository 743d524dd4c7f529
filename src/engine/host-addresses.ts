import { succeeded, type Executor } from '../exec/types.js';
import type { ParamSpec } from '../runbook/schema.js';

/** A parameter declared `on_this_host: true` whose address no interface of this host has. */
export interface MissingHostAddress {
  param: string;
  address: string;
}

/**
 * Issue 26, item 5: the addresses a runbook says this host must have (`on_this_host: true`,
 * such as single-container's host_ip, which the container pings) that no interface has. Asked
 * before a run, as a warning, not a refusal: the run goes on, and its failing ping's probe names
 * the same cause. Read-only (`ip -j addr show`); an answer that cannot be read warns of nothing.
 *
 * A check of its own, apart from the preflight preconditions of issue 23 (`requires` with
 * `preflight: true`), which refuse: when those gain a warning severity, this can become one.
 */
export async function missingHostAddresses(
  parameters: Readonly<Record<string, ParamSpec>>,
  params: Readonly<Record<string, string>>,
  executor: Executor,
): Promise<MissingHostAddress[]> {
  const wanted = Object.entries(parameters)
    .filter(([name, spec]) => spec.on_this_host === true && params[name] !== undefined)
    .map(([name]) => ({ param: name, address: params[name] as string }));
  if (wanted.length === 0) return [];
  const result = await executor.run({ argv: ['ip', '-j', 'addr', 'show'], timeoutMs: 5_000, readOnly: true });
  if (!succeeded(result)) return [];
  const present = new Set<string>();
  try {
    for (const link of JSON.parse(result.stdout) as Array<{ addr_info?: Array<{ local?: unknown }> }>)
      for (const info of link.addr_info ?? []) if (typeof info.local === 'string') present.add(info.local);
  } catch {
    return [];
  }
  return wanted.filter(({ address }) => !present.has(address));
}
