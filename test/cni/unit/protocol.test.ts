import { describe, expect, it } from 'vitest';
import { attachmentNames, networkRunTag, runTag } from '../../../src/cni/attachment.js';
import { defaultLockTimeoutMs, parseNetworkConfig } from '../../../src/cni/config.js';
import { CniError, errorObject, resultObject } from '../../../src/cni/protocol.js';
import { renderAdvice, userContextOf } from '../../../src/cli/render-advice.js';
import { advice, runbookCommand } from '../../../src/suggestion.js';
import { parseRequest } from '../../../src/cni/request.js';

/** The plugin's reading of what a runtime gives it, in memory: no kernel, no root. */

const minimal = { cniVersion: '1.0.0', name: 'rbnet', type: 'runbook-cni' };

/** Runs `work`, which must throw the spec's error; returns it. */
function thrown(work: () => unknown): CniError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(CniError);
    return error as CniError;
  }
  throw new Error('expected a CniError, nothing was thrown');
}

const codeOf = (work: () => unknown): number => thrown(work).code;

describe('the network configuration', () => {
  it('defaults to the shipped pair of runbooks and a 60 s wait', () => {
    const config = parseNetworkConfig(JSON.stringify(minimal));
    expect(config).toMatchObject({
      cniVersion: '1.0.0',
      name: 'rbnet',
      runbook: 'cni-bridge',
      networkRunbook: 'cni-bridge-network',
      params: {},
      stateDir: undefined,
      ipam: undefined,
    });
    expect(config.lockTimeoutMs).toBe(defaultLockTimeoutMs);
  });

  it('runs no network runbook when it names a runbook of its own and none for the network', () => {
    const config = parseNetworkConfig(JSON.stringify({ ...minimal, runbook: '/etc/runbook/mine.yaml' }));
    expect([config.runbook, config.networkRunbook]).toEqual(['/etc/runbook/mine.yaml', undefined]);
  });

  it('takes parameter values as text, numbers and booleans written as such', () => {
    const config = parseNetworkConfig(JSON.stringify({ ...minimal, params: { bridge: 'br9', mtu: 1400, x: true } }));
    expect(config.params).toEqual({ bridge: 'br9', mtu: '1400', x: 'true' });
  });

  const refused: Array<[string, string, number]> = [
    ['text that is not JSON', '{"cniVersion": ', 6],
    ['JSON that is not an object', '[1, 2]', 6],
    ['a version it does not speak', JSON.stringify({ ...minimal, cniVersion: '0.3.1' }), 1],
    ['no version', JSON.stringify({ name: 'rbnet', type: 'runbook-cni' }), 1],
    ['an unknown field', JSON.stringify({ ...minimal, bridgeName: 'x' }), 2],
    ['ipMasq false (the network runbook always masquerades)', JSON.stringify({ ...minimal, ipMasq: false }), 2],
    ['a network name that is not one', JSON.stringify({ ...minimal, name: '../x' }), 7],
    ['a relative stateDir', JSON.stringify({ ...minimal, stateDir: 'state' }), 7],
    ['a runbook that is neither a name nor an absolute path', JSON.stringify({ ...minimal, runbook: 'a/b' }), 7],
    ['params that are not an object', JSON.stringify({ ...minimal, params: ['a=b'] }), 7],
    ['a parameter value that is an object', JSON.stringify({ ...minimal, params: { a: { b: 1 } } }), 7],
    ['an IPAM type that is a path', JSON.stringify({ ...minimal, ipam: { type: '../../bin/sh' } }), 7],
    ['a negative lockTimeoutSeconds', JSON.stringify({ ...minimal, lockTimeoutSeconds: -1 }), 7],
  ];
  for (const [what, text, code] of refused) {
    it(`refuses ${what} with code ${code}`, () => {
      expect(codeOf(() => parseNetworkConfig(text))).toBe(code);
    });
  }

  it('names the unsupported field and its value, as the spec asks', () => {
    const error = thrown(() => parseNetworkConfig(JSON.stringify({ ...minimal, bridgeName: 'x' })));
    expect(error.message).toBe('unsupported field "bridgeName": "x"');
  });
});

describe('the CNI_* variables', () => {
  const add = {
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'c1',
    CNI_NETNS: '/run/netns/c1',
    CNI_IFNAME: 'eth0',
    CNI_PATH: '/a::/b',
  };

  it('are read into a request, CNI_PATH split into directories, every variable kept for the IPAM plugin', () => {
    expect(parseRequest({ ...add, OTHER: 'x' })).toEqual({
      command: 'ADD',
      containerId: 'c1',
      netns: '/run/netns/c1',
      ifname: 'eth0',
      path: ['/a', '/b'],
      env: { ...add, OTHER: 'x' },
    });
  });

  it('VERSION needs nothing else; DEL needs no namespace', () => {
    expect(parseRequest({ CNI_COMMAND: 'VERSION' }).command).toBe('VERSION');
    expect(parseRequest({ ...add, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns).toBe('');
  });

  const refused: Array<[string, Record<string, string>, string]> = [
    ['no CNI_COMMAND', { ...add, CNI_COMMAND: '' }, 'CNI_COMMAND'],
    ['an unknown command', { ...add, CNI_COMMAND: 'GC' }, 'CNI_COMMAND'],
    ['an ADD without a namespace', { ...add, CNI_NETNS: '' }, 'CNI_NETNS'],
    ['a namespace path with ..', { ...add, CNI_NETNS: '/run/netns/../x' }, 'CNI_NETNS'],
    ['a container id with a slash', { ...add, CNI_CONTAINERID: 'a/b' }, 'CNI_CONTAINERID'],
    ['an interface name of 16 bytes', { ...add, CNI_IFNAME: 'eth0123456789012' }, 'CNI_IFNAME'],
    ['an interface name with a colon', { ...add, CNI_IFNAME: 'eth0:1' }, 'CNI_IFNAME'],
  ];
  for (const [what, env, variable] of refused) {
    it(`refuse ${what} with code 4, naming ${variable}`, () => {
      const error = thrown(() => parseRequest(env));
      expect(error.code).toBe(4);
      expect(error.message).toContain(variable);
    });
  }
});

describe("an attachment's names", () => {
  const one = { network: 'rbnet', containerId: 'f00dcafe0123456789', ifname: 'eth0' };

  it('are the same on every call, and differ per network, container and interface', () => {
    expect(attachmentNames(one)).toEqual(attachmentNames({ ...one }));
    const others = [
      { ...one, network: 'other' },
      { ...one, containerId: 'f00dcafe0123456780' },
      { ...one, ifname: 'eth1' },
    ].map((a) => attachmentNames(a).hostVeth);
    expect(new Set([attachmentNames(one).hostVeth, ...others]).size).toBe(4);
  });

  it('are a veth name of 12 bytes and two locally administered unicast addresses', () => {
    const names = attachmentNames(one);
    expect(names.hostVeth).toMatch(/^veth[0-9a-f]{8}$/);
    for (const mac of [names.hostMac, names.containerMac]) expect(mac).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    expect(names.hostMac).not.toBe(names.containerMac);
  });

  it("tag runs with the container id's first 8 hex digits, or its hash; never as the network's runs", () => {
    expect(runTag('F00DCAFE0123')).toBe('f00dcafe');
    expect(runTag('web-1')).toMatch(/^[0-9a-f]{8}$/);
    expect(runTag('web-1')).toBe(runTag('web-1'));
    expect(networkRunTag).not.toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('the objects printed', () => {
  it('mark each address with its IP version for 0.4.0 only', () => {
    const ips = [{ address: '10.89.0.2/24', gateway: '10.89.0.1', interface: 2 }];
    expect(resultObject({ cniVersion: '0.4.0', ips }).ips).toEqual([{ version: '4', ...ips[0] }]);
    expect(resultObject({ cniVersion: '1.0.0', ips }).ips).toEqual(ips);
  });

  it('leave details out of an error when there are none', () => {
    expect(errorObject('1.0.0', new CniError(11, 'busy'), String)).toEqual({
      cniVersion: '1.0.0',
      code: 11,
      msg: 'busy',
    });
  });

  it("render an error's suggested commands for the network's state dir, as the operator must type them", () => {
    const error = new CniError(100, 'failed', advice`what the run did: ${runbookCommand('journal', 'RUN')}`);
    const stateDir = '/var/lib/runbook/cni/mynet';
    const rendered = errorObject('1.0.0', error, (details) => renderAdvice(details, userContextOf(stateDir, {}, 0)));
    expect(rendered.details).toBe(`what the run did: runbook --state-dir ${stateDir} journal RUN`);
  });
});
