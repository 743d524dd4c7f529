import { succeeded } from '../exec/types.js';
import type { PlannedCommand, PlannedStep } from '../plan/plan.js';
import { runJournaled, type CommandContext } from './journaled-command.js';

/**
 * Rollback never removes an object that holds something the run did not create (issue 22),
 * whichever state dir — or no runbook at all — created that something. Deleting a namespace
 * takes its links with it; deleting a bridge, its ports' membership; deleting a link, its
 * addresses, the routes through it and the links stacked on it. So before an undo command
 * that deletes such a container runs, the engine reads what the container holds from the
 * kernel and compares it with what the run itself made; anything else is foreign, and the step
 * is refused with the evidence, as a failed precondition refuses a `do`.
 *
 * The pieces are generic, for any walk that deletes things (rollback, and a CNI DEL, issue 25,
 * where several containers share one bridge and DEL of one must never take the others' ports):
 *   - `deletedContainer(argv)`: which container an undo command deletes (pure);
 *   - `probeContents(ctx, step, container)`: what it holds now, read with read-only `ip -j`
 *     commands, journaled in the phase `undo-guard`;
 *   - `foreignIn(contents, own)`: what of that the run did not make (pure);
 *   - `containmentGuard(...)`: the three put together, as undo-steps.ts asks before a step.
 * What "the run made" means is the caller's (`OwnNames`): for a rollback, every name the run's
 * changed steps used in their commands or captured.
 */

/** A container an undo command deletes. */
export type Container =
  | { kind: 'namespace'; name: string }
  /** A link (a bridge, a veth, anything), in `netns` or, undefined, in the host. */
  | { kind: 'link'; name: string; netns: string | undefined };

/** One thing a container holds. */
export interface Content {
  what: 'link' | 'address' | 'port' | 'route' | 'stacked link';
  /** Its name: a link's name, an address with its prefix, a route's destination. */
  name: string;
  /** Where it is, when not on the container itself (" on veth1, the other end of ceth1"). */
  where?: string;
}

/** The names a run made its objects with: what is not foreign to it. */
export type OwnNames = ReadonlySet<string>;

/**
 * Whose the foreign things are, where that can be found: for each name, the runs (other than
 * `exceptRun`) whose changed steps used it, described for a person ("run X of /var/lib/runbook:
 * single-container, succeeded"). Supplied by the caller, which knows where runs are kept.
 */
export type FindOwners = (names: readonly string[], exceptRun: string) => ReadonlyMap<string, readonly string[]>;

/**
 * The container `argv` deletes, or undefined: `ip netns del NAME`, and `ip [-n NS] link del
 * [dev] NAME` (`delete` too, options before the object as `ip` takes them; also run through
 * `ip netns exec NS ip …`).
 */
export function deletedContainer(argv: readonly string[], inNetns?: string): Container | undefined {
  if (argv[0] !== 'ip' && !argv[0]?.endsWith('/ip')) return undefined;
  const words = [...argv.slice(1)];
  let netns = inNetns;
  // ip's global options: -n/-netns take a value; the rest (-j, -d, -4…) are flags here.
  while (words[0]?.startsWith('-')) {
    const option = words.shift() as string;
    if (option === '-n' || option === '-netns' || option === '--netns') netns = words.shift();
    else if (option === '-all') return undefined;
  }
  const [object, verb, ...rest] = words;
  if (object === 'netns' && verb === 'exec' && rest[0] !== undefined) return deletedContainer(rest.slice(1), rest[0]);
  const deletes = verb === 'del' || verb === 'delete';
  if (!deletes) return undefined;
  if (object === 'netns' && netns === undefined && rest[0] !== undefined) return { kind: 'namespace', name: rest[0] };
  if (object === 'link' || object === 'l' || object === 'li' || object === 'lin') {
    const name = rest[0] === 'dev' ? rest[1] : rest[0];
    if (name !== undefined) return { kind: 'link', name, netns };
  }
  return undefined;
}

/** What a container holds now, or why it could not be read; 'gone' when it does not exist. */
export type Contents = { kind: 'holds'; items: Content[] } | { kind: 'gone' } | { kind: 'unreadable'; why: string };

interface IpLink {
  ifindex?: number;
  ifname?: string;
  master?: string;
  /** The link it sits on (a macvlan's lower device), or a veth's peer in the same namespace. */
  link?: string;
  /** A veth's peer in another namespace: its ifindex there. */
  link_index?: number;
  link_netnsid?: number;
  linkinfo?: { info_kind?: string };
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number; scope?: string }>;
}

interface IpRoute {
  dst?: string;
  protocol?: string;
}

/** Runs one read-only `ip -j` command for a probe: its JSON list, 'gone', or why it could not be read. */
type Read = <T>(argv: string[]) => Promise<T[] | 'gone' | string>;

/** Reads what `container` holds, with read-only `ip -j` commands journaled under `step`. */
export async function probeContents(ctx: CommandContext, step: string, container: Container): Promise<Contents> {
  let index = 0;
  const read: Read = async <T>(argv: string[]) => {
    const command: PlannedCommand = { argv, timeoutMs: 5_000 };
    const result = await runJournaled(ctx, step, 'undo-guard', index++, command);
    if (!succeeded(result)) {
      if (
        result.exitCode !== undefined &&
        /Cannot find device|Cannot open network namespace|does not exist/.test(result.stderr)
      )
        return 'gone';
      return `${argv.join(' ')}: ${result.startError ?? (result.stderr.trim().split('\n')[0] || `exit ${result.exitCode}`)}`;
    }
    if (result.stdout.trim() === '') return [];
    try {
      const parsed: unknown = JSON.parse(result.stdout);
      return Array.isArray(parsed) ? (parsed as T[]) : `${argv.join(' ')}: not a JSON list`;
    } catch {
      return `${argv.join(' ')}: its output is not JSON`;
    }
  };
  try {
    return container.kind === 'namespace'
      ? await namespaceContents(read, container.name)
      : await linkContents(read, container);
  } catch (error) {
    if (error instanceof Unreadable) return { kind: 'unreadable', why: error.message };
    if (error instanceof Gone) return { kind: 'gone' };
    throw error;
  }
}

class Unreadable extends Error {}
class Gone extends Error {}

/** The JSON list a read gave, or a throw that ends the probe ('gone', or unreadable). */
async function list<T>(read: Read, argv: string[]): Promise<T[]> {
  const got = await read<T>(argv);
  if (got === 'gone') throw new Gone();
  if (typeof got === 'string') throw new Unreadable(got);
  return got;
}

const nsArgs = (netns: string | undefined) => (netns === undefined ? [] : ['-n', netns]);

/** A namespace holds its links (all but lo) and the addresses on its lo (but the kernel's). */
async function namespaceContents(read: Read, name: string): Promise<Contents> {
  const links = await list<IpLink>(read, ['ip', '-n', name, '-j', 'addr', 'show']);
  const items: Content[] = [];
  for (const link of links) {
    if (link.ifname === undefined) continue;
    if (link.ifname !== 'lo') items.push({ what: 'link', name: link.ifname });
    else
      items.push(...addressesOf(link).map((address) => ({ what: 'address' as const, name: address, where: ' on lo' })));
  }
  return { kind: 'holds', items };
}

/**
 * A link holds its addresses, the routes through it, its ports (a bridge's), the links stacked
 * on it (a macvlan on its lower device); and a veth takes its peer with it, so the peer's
 * addresses and routes too, wherever the peer is (another namespace, or the host).
 */
async function linkContents(read: Read, container: Extract<Container, { kind: 'link' }>): Promise<Contents> {
  const links = await list<IpLink>(read, ['ip', ...nsArgs(container.netns), '-j', '-d', 'addr', 'show']);
  const self = links.find((l) => l.ifname === container.name);
  if (self === undefined) return { kind: 'gone' };
  const isVeth = self.linkinfo?.info_kind === 'veth';
  const items = await heldBy(read, container.netns, self, links, isVeth ? self.link : undefined, '');
  if (isVeth) {
    // Both ends in one namespace: `link` names the peer; else it is found by its ifindex.
    const peer =
      self.link !== undefined
        ? { netns: container.netns, link: links.find((l) => l.ifname === self.link), links }
        : await peerElsewhere(read, container.netns, self);
    if (peer?.link?.ifname !== undefined) {
      const where = ` on ${peer.link.ifname}${peer.netns === undefined ? '' : ` in ${peer.netns}`}, the other end of ${self.ifname}`;
      items.push(...(await heldBy(read, peer.netns, peer.link, peer.links, self.ifname, where)));
    }
  }
  return { kind: 'holds', items };
}

/** What one link holds (see linkContents); `peer`, a veth's other end, is not "stacked" on it. */
async function heldBy(
  read: Read,
  netns: string | undefined,
  self: IpLink,
  links: readonly IpLink[],
  peer: string | undefined,
  where: string,
): Promise<Content[]> {
  const name = self.ifname as string;
  const items: Content[] = addressesOf(self).map((address) => ({ what: 'address', name: address, where }));
  for (const link of links) {
    if (link.ifname === undefined || link.ifname === name || link.ifname === peer) continue;
    if (link.master === name) items.push({ what: 'port', name: link.ifname, where });
    else if (link.link === name) items.push({ what: 'stacked link', name: link.ifname, where });
  }
  const routes = await list<IpRoute>(read, ['ip', ...nsArgs(netns), '-j', 'route', 'show', 'dev', name]);
  // A route the kernel made for an address (proto kernel) goes and comes with the address.
  for (const route of routes)
    if (route.dst !== undefined && route.protocol !== 'kernel') items.push({ what: 'route', name: route.dst, where });
  return items;
}

/**
 * A veth's peer in another namespace: the link whose ifindex is the peer's and whose own peer
 * is this one, looked for in the host first (the usual case: a container's end), then in every
 * named namespace. Undefined if it cannot be found (then only the link itself is looked at).
 */
async function peerElsewhere(
  read: Read,
  netns: string | undefined,
  self: IpLink,
): Promise<{ netns: string | undefined; link: IpLink | undefined; links: IpLink[] } | undefined> {
  if (self.link_index === undefined || self.link_netnsid === undefined) return undefined;
  const lookIn = async (candidate: string | undefined) => {
    let links: IpLink[];
    try {
      links = await list<IpLink>(read, ['ip', ...nsArgs(candidate), '-j', 'addr', 'show']);
    } catch (error) {
      if (error instanceof Gone) return undefined;
      throw error;
    }
    const link = links.find((l) => l.ifindex === self.link_index && l.link_index === self.ifindex);
    return link === undefined ? undefined : { netns: candidate, link, links };
  };
  // The host first: a container's end has its peer there, and then no listing is needed.
  const inHost = netns === undefined ? undefined : await lookIn(undefined);
  if (inHost !== undefined) return inHost;
  const named = (await list<{ name?: string }>(read, ['ip', '-j', 'netns', 'list']))
    .map((n) => n.name)
    .filter((n): n is string => n !== undefined && n !== netns);
  for (const candidate of named) {
    const found = await lookIn(candidate);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A link's addresses as ADDRESS/PREFIX, less those the kernel gives every link (fe80::/64, lo's). */
function addressesOf(link: IpLink): string[] {
  return (link.addr_info ?? [])
    .filter((a) => a.local !== undefined && a.scope !== 'link' && a.scope !== 'host')
    .map((a) => `${a.local}/${a.prefixlen}`);
}

/** What of `contents` the run did not make: neither named by it, nor (addresses) its address without the prefix. */
export function foreignIn(items: readonly Content[], own: OwnNames): Content[] {
  return items.filter((item) => !own.has(item.name) && !own.has(item.name.split('/')[0] as string));
}

/** How a container is named in messages. */
export function describeContainer(container: Container): string {
  if (container.kind === 'namespace') return `the namespace ${container.name}`;
  return `the link ${container.name}${container.netns === undefined ? '' : ` in ${container.netns}`}`;
}

/**
 * The guard undo-steps.ts consults before a step's undo: for each of its undo commands that
 * deletes a container, what the container holds that the run did not make. Returns the refusal
 * (the evidence, with the runs that made it where they can be found), or undefined to go on.
 * Each verdict is journaled as a check of the phase `undo-guard`.
 */
export function containmentGuard(
  own: OwnNames,
  findOwners?: (names: readonly string[]) => ReadonlyMap<string, readonly string[]>,
) {
  return async (ctx: CommandContext, step: PlannedStep): Promise<string | undefined> => {
    for (const [index, command] of step.undo.entries()) {
      const container = deletedContainer(command.argv);
      if (container === undefined) continue;
      const contents = await probeContents(ctx, step.id, container);
      const refusal =
        contents.kind === 'gone'
          ? undefined
          : contents.kind === 'unreadable'
            ? `refused: what ${describeContainer(container)} holds could not be read (${contents.why}), so its undo \`${command.argv.join(' ')}\` could delete what this run did not make`
            : foreignRefusal(container, foreignIn(contents.items, own), findOwners);
      ctx.journal.append({
        type: 'check',
        step: step.id,
        phase: 'undo-guard',
        index,
        ok: refusal === undefined,
        reason: refusal ?? (contents.kind === 'gone' ? 'already gone' : 'it holds only what this run made'),
        evidence: undefined,
      });
      if (refusal !== undefined) return refusal;
    }
    return undefined;
  };
}

function foreignRefusal(
  container: Container,
  foreign: readonly Content[],
  findOwners?: (names: readonly string[]) => ReadonlyMap<string, readonly string[]>,
): string | undefined {
  if (foreign.length === 0) return undefined;
  const owners = findOwners?.([...new Set(foreign.map((f) => f.name))]) ?? new Map<string, string[]>();
  const shown = foreign.slice(0, 8).map((item) => {
    const whose = owners.get(item.name) ?? [];
    const made = whose.length === 0 ? 'made by no run this host knows of' : `made by ${whose.join('; ')}`;
    return `${item.what} ${item.name}${item.where ?? ''} (${made})`;
  });
  const more = foreign.length > 8 ? ` and ${foreign.length - 8} more` : '';
  return `refused: ${describeContainer(container)} holds what this run did not make: ${shown.join(', ')}${more}; deleting it would delete that too, so it was left in place`;
}
