import { describe, expect, it } from 'vitest';
import { missingHostAddresses } from '../../src/engine/host-addresses.js';
import type { CommandRequest, CommandResult, Executor } from '../../src/exec/types.js';
import { RunbookSpec, type ParamSpec } from '../../src/runbook/schema.js';

/** A host whose `ip -j addr show` prints `stdout` (exit `exitCode`); it records what was run. */
function hostAnswering(stdout: string, exitCode = 0): Executor & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    run: (request: CommandRequest): Promise<CommandResult> => {
      calls.push([...request.argv]);
      return Promise.resolve({ exitCode, stdout, stderr: '', durationMs: 1 } as CommandResult);
    },
  };
}

const addresses = JSON.stringify([
  { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1' }] },
  {
    ifname: 'enp0s8',
    addr_info: [
      { family: 'inet', local: '10.0.0.10' },
      { family: 'inet6', local: 'fe80::1' },
    ],
  },
  { ifname: 'veth9' },
]);
const parameters: Record<string, ParamSpec> = {
  host_ip: { type: 'ipv4', on_this_host: true },
  gateway: { type: 'ipv4' },
};

describe('the addresses a runbook says this host must have (issue 26, item 5)', () => {
  it('names the on_this_host parameters whose address no interface has, and only those', async () => {
    expect(
      await missingHostAddresses(parameters, { host_ip: '10.0.0.10', gateway: '1.2.3.4' }, hostAnswering(addresses)),
    ).toEqual([]);
    expect(
      await missingHostAddresses(parameters, { host_ip: '10.0.0.99', gateway: '1.2.3.4' }, hostAnswering(addresses)),
    ).toEqual([{ param: 'host_ip', address: '10.0.0.99' }]);
  });

  it('runs nothing when no parameter asks, and warns of nothing when ip cannot answer', async () => {
    const quiet = hostAnswering(addresses);
    expect(await missingHostAddresses({ gateway: { type: 'ipv4' } }, { gateway: '1.2.3.4' }, quiet)).toEqual([]);
    expect(quiet.calls).toEqual([]);
    expect(await missingHostAddresses(parameters, { host_ip: '10.0.0.99' }, hostAnswering('', 1))).toEqual([]);
    expect(await missingHostAddresses(parameters, { host_ip: '10.0.0.99' }, hostAnswering('not json'))).toEqual([]);
  });

  it('is declared on ipv4 parameters only', () => {
    const spec = (type: string) => ({
      name: 'x',
      description: 'x',
      parameters: { p: { type, on_this_host: true } },
      steps: [],
    });
    expect(RunbookSpec.safeParse(spec('ipv4')).error?.issues.map((i) => i.message) ?? []).not.toContain(
      '"on_this_host" is for an ipv4 parameter',
    );
    expect(RunbookSpec.safeParse(spec('name')).error?.issues.map((i) => i.message)).toContain(
      '"on_this_host" is for an ipv4 parameter',
    );
  });
});
