import { isIPv4 } from 'node:net';
import { invalidInput } from '../errors.js';
import { advice, runbookCommand } from '../suggestion.js';
import { loopValues, scopeOfPass } from './loop-values.js';
import type { ParamValues } from './params.js';
import type { ConstraintSpec, ParamSpec } from './schema.js';
import { renderTemplate, TemplateError, type Scope } from './template.js';

/**
 * A runbook's `constraints`: facts about its parameter values that no single type can state,
 * checked before anything runs (issue 11). One kind so far: an address that must be a usable
 * host address of a network (multi-container: every container's address inside the bridge's
 * network, neither its network nor its broadcast address, nor the bridge's own address).
 */
export function checkConstraints(
  runbook: string,
  constraints: readonly ConstraintSpec[],
  params: ParamValues,
  parameters: Readonly<Record<string, ParamSpec>> = {},
  shownAs: string = runbook,
): void {
  const problems: string[] = [];
  try {
    for (const constraint of constraints) {
      for (const scope of scopesOf(constraint, params, parameters)) {
        const problem = checkAddress(constraint, scope);
        if (problem !== undefined) problems.push(problem);
      }
    }
  } catch (error) {
    if (error instanceof TemplateError) throw invalidInput(`runbook ${runbook}: constraints: ${error.message}`);
    throw error;
  }
  if (problems.length > 0) {
    throw invalidInput(
      `runbook ${runbook}: the parameters do not fit together; nothing was changed:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      advice`see the parameters with: ${runbookCommand('show', shownAs)}`,
    );
  }
}

/**
 * The scopes to check in: the parameters, once per loop value when the constraint has a loop
 * (a range, or `in:` a list or a list of records, as for steps: loop-values.ts).
 */
function scopesOf(
  constraint: ConstraintSpec,
  params: ParamValues,
  parameters: Readonly<Record<string, ParamSpec>>,
): Scope[] {
  const { foreach } = constraint;
  if (foreach === undefined) return [params];
  return loopValues(foreach, params, parameters).map((pass) => scopeOfPass(params, foreach, pass));
}

function checkAddress(constraint: ConstraintSpec, scope: Scope): string | undefined {
  let address: string;
  try {
    address = renderTemplate(constraint.address, scope);
  } catch (error) {
    // An address a helper cannot make (host(300) of a /24) is a problem of this value, named so.
    if (!(error instanceof TemplateError)) throw error;
    const what = constraint.what === undefined ? constraint.address : renderTemplate(constraint.what, scope);
    return `${what}: ${error.message}`;
  }
  const network = renderTemplate(constraint.host_of, scope);
  const what = constraint.what === undefined ? address : `${renderTemplate(constraint.what, scope)} (${address})`;
  const match = /^([^/]+)\/(\d+)$/.exec(network);
  if (!isIPv4(address) || match === null || !isIPv4(match[1] ?? '')) {
    return `${what}: cannot check: "${address}" in "${network}" is not an address in a network`;
  }
  const prefixlen = Number(match[2]);
  const size = 2 ** (32 - prefixlen);
  const base = Math.floor(toNumber(match[1] as string) / size) * size;
  const n = toNumber(address);
  const cidr = `${fromNumber(base)}/${prefixlen}`;
  if (n < base || n >= base + size) return `${what} is outside ${cidr}`;
  // /31 and /32 have no network or broadcast address to avoid (RFC 3021).
  if (prefixlen <= 30 && n === base) return `${what} is the network address of ${cidr}`;
  if (prefixlen <= 30 && n === base + size - 1) return `${what} is the broadcast address of ${cidr}`;
  for (const other of constraint.not) {
    const taken = renderTemplate(other, scope);
    if (taken === address) return `${what} is ${taken}, which is taken`;
  }
  return undefined;
}

function toNumber(address: string): number {
  return address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function fromNumber(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}
