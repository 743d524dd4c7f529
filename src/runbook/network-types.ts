import { isIPv4 } from 'node:net';
import { maxNameBytes } from '../text/plain-text.js';
import type { ParamSpec, ParamType } from './schema.js';

/**
 * The network parameter types (name, interface, ipv4, ipv4-cidr, ipv4-network, integer): why a
 * value is not one, or undefined (also for a type that is not one of these). The other types are
 * param-types.ts's, whose checkParamValue dispatches here.
 */
export function checkNetworkValue(
  type: ParamType,
  value: string,
  spec?: Pick<ParamSpec, 'min' | 'max'> & Partial<ParamSpec>,
): string | undefined {
  switch (type) {
    case 'name':
      if (value === '.' || value === '..') return 'a name cannot be "." or ".." (ip netns refuses them)';
      if (Buffer.byteLength(value) > maxNameBytes)
        return `a name is at most ${maxNameBytes} characters (a network namespace name is a file name)`;
      return /^[A-Za-z0-9._-]+$/.test(value)
        ? undefined
        : 'expected a name: letters, digits, ".", "_" or "-", not empty';
    case 'interface':
      // The kernel's rules (dev_valid_name): 1-15 bytes, not "." or "..", no "/", ":" or whitespace.
      if (value.length === 0 || Buffer.byteLength(value) > 15)
        return 'expected an interface name of 1 to 15 characters';
      if (value === '.' || value === '..') return 'an interface cannot be named "." or ".."';
      if (/[/:\s]/.test(value)) return 'an interface name cannot contain "/", ":" or whitespace';
      // `ip link add name v%d` makes the kernel pick the name (v0, v1, …): the run could not
      // know which link it made, and its undo would look for "v%d" and leak it.
      if (value.includes('%'))
        return 'an interface name cannot contain "%" (the kernel reads v%d as "pick a free name")';
      return undefined;
    case 'ipv4':
      return isIPv4(value) ? undefined : 'expected an IPv4 address such as 10.0.0.10';
    case 'ipv4-cidr':
    case 'ipv4-network': {
      // No leading zeros in the prefix length: `ip` rejects /08 and reads /07 as 7, which a
      // verify comparing "07" with the kernel's 7 would then never see.
      const match = /^([^/]+)\/(0|[1-9]\d?)$/.exec(value);
      if (match === null || !isIPv4(match[1] ?? '') || Number(match[2]) > 32) {
        return `expected an IPv4 address with prefix length, such as ${type === 'ipv4-network' ? '172.16.0.0/24' : '172.16.0.2/24'}`;
      }
      if (type === 'ipv4-network' && match[2] === '0') {
        return 'expected a network smaller than the whole IPv4 space: a route to 0.0.0.0/0 is a default route';
      }
      if (type === 'ipv4-network' && hostBits(match[1] as string, Number(match[2])) !== 0) {
        return 'expected a network address: the bits after the prefix length must be zero (the kernel refuses a route to 172.16.0.9/24)';
      }
      return undefined;
    }
    case 'integer': {
      if (!/^-?\d+$/.test(value)) return 'expected a whole number';
      const n = Number(value);
      if (spec?.min !== undefined && n < spec.min) return `expected at least ${spec.min}`;
      if (spec?.max !== undefined && n > spec.max) return `expected at most ${spec.max}`;
      return undefined;
    }
    default:
      return undefined; // handled above
  }
}

/** The address's bits after the first `prefixlen` bits, as a number (0 for a network address). */
function hostBits(address: string, prefixlen: number): number {
  const n = address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  return prefixlen === 32 ? 0 : n % 2 ** (32 - prefixlen);
}
