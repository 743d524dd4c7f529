import { succeeded, type CommandResult, type Executor } from '../exec/types.js';

/**
 * The live kernel, read for `runbook topology` (issue 29) the way checks read it: `ip -j`,
 * `iptables -S` and /proc, every command through the executor as a read-only request (argv,
 * never a shell, with a timeout). Nothing here changes the host. What cannot be read (a
 * namespace gone meanwhile, iptables without root) is kept as a reason, so that the picture
 * says what it lacks instead of drawing less and saying nothing.
 */

/** One link as `ip -j -d addr show` prints it (the fields drawn). */
export interface IpLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  operstate?: string;
  link_type?: string;
  /** A veth's peer: its ifindex, in the namespace `link_netnsid` names (or this one). */
  link_index?: number;
  link_netnsid?: number;
  master?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number; scope?: string }>;
}

/** One route as `ip -j route show` prints it. */
export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  type?: string;
}

/** What was read of one network namespace. */
export interface NamespaceReading {
  /** undefined: the namespace this process runs in (the host). */
  name: string | undefined;
  links: IpLink[];
  routes: IpRoute[];
  /** Peer namespace ids (nsid) as this namespace numbers them → the name `ip netns` gives it. */
  nsids: Map<number, string | undefined>;
  /** Why (part of) it could not be read. */
  unreadable: string[];
}

export interface IptablesReading {
  /** The table's `iptables -S` lines, or why they could not be read. */
  nat: string[] | { unreadable: string };
  filter: string[] | { unreadable: string };
}

export interface KernelReading {
  namespaces: NamespaceReading[];
  /** /proc/sys/net/ipv4/ip_forward of the host, or why it could not be read. */
  ipForward: string | { unreadable: string };
  iptables: IptablesReading;
}

const timeoutMs = 10_000;

/**
 * At most this many commands at once: enough to read a dozen namespaces quickly, few enough
 * for a small machine (and for the AbortSignal's listeners, one per running command).
 */
const concurrency = 4;

interface Reader {
  executor: Executor;
  signal: AbortSignal | undefined;
  /** Runs `task` when one of the `concurrency` slots is free. */
  slot: <T>(task: () => Promise<T>) => Promise<T>;
}

/** Reads the host's namespaces, links, addresses, routes, forwarding and NAT rules. */
export async function readKernel(executor: Executor, signal?: AbortSignal): Promise<KernelReading> {
  const reader: Reader = { executor, signal, slot: slots(concurrency) };
  const listed = await run(reader, ['ip', '-j', 'netns', 'list']);
  const names = (listed.ok ? (parseJson<Array<{ name?: string }>>(listed.stdout) ?? []) : []).flatMap(
    (n) => n.name ?? [],
  );
  const [namespaces, ipForward, nat, filter] = await Promise.all([
    Promise.all([undefined, ...names.sort()].map((name) => readNamespace(reader, name))),
    readSetting(reader, '/proc/sys/net/ipv4/ip_forward'),
    readIptables(reader, 'nat'),
    readIptables(reader, 'filter'),
  ]);
  if (!listed.ok) namespaces[0]?.unreadable.push(`the named namespaces could not be listed: ${reasonOf(listed)}`);
  return { namespaces, ipForward, iptables: { nat, filter } };
}

async function readNamespace(reader: Reader, name: string | undefined): Promise<NamespaceReading> {
  const ip = (...args: string[]) => (name === undefined ? ['ip', ...args] : ['ip', '-n', name, ...args]);
  const reading: NamespaceReading = { name, links: [], routes: [], nsids: new Map(), unreadable: [] };
  // Links first: showing a peer's namespace is what makes the kernel number it (nsid), so the
  // list of ids read after it names every namespace the links refer to.
  const [links, routes] = await Promise.all([
    run(reader, ip('-j', '-d', 'addr', 'show')),
    run(reader, ip('-j', 'route', 'show')),
  ]);
  const failures: Array<{ what: string; reason: string }> = [];
  const parsed = <T>(outcome: Outcome, what: string): T | undefined => {
    const value = outcome.ok ? parseJson<T>(outcome.stdout) : undefined;
    if (value === undefined) failures.push({ what, reason: reasonOf(outcome) });
    return value;
  };
  reading.links = parsed<IpLink[]>(links, 'links') ?? [];
  reading.routes = parsed<IpRoute[]>(routes, 'routes') ?? [];
  if (reading.links.some((link) => link.link_netnsid !== undefined)) {
    const ids = await run(reader, ip('-j', 'netns', 'list-id'));
    for (const { nsid, name: peer } of parsed<Array<{ nsid?: number; name?: string }>>(ids, 'namespace ids') ?? [])
      if (nsid !== undefined) reading.nsids.set(nsid, peer);
  }
  // Said once when nothing could be read for one reason (not entered, say).
  const reasons = new Set(failures.map((f) => f.reason));
  if (failures.length > 1 && reasons.size === 1) reading.unreadable.push(`it could not be read: ${[...reasons][0]}`);
  else for (const { what, reason } of failures) reading.unreadable.push(`its ${what} could not be read: ${reason}`);
  return reading;
}

async function readSetting(reader: Reader, file: string): Promise<string | { unreadable: string }> {
  // Read in this process (exec/read-file.ts): no program runs.
  const result = await reader.executor.run({
    argv: ['read', file],
    read: file,
    readOnly: true,
    timeoutMs,
    signal: reader.signal,
  });
  return succeeded(result) ? result.stdout.trim() : { unreadable: reasonOf(result) };
}

async function readIptables(reader: Reader, table: 'nat' | 'filter'): Promise<string[] | { unreadable: string }> {
  const result = await run(reader, ['iptables', '-w', '5', '-t', table, '-S']);
  return result.ok ? result.stdout.split('\n').filter((line) => line !== '') : { unreadable: reasonOf(result) };
}

type Outcome = { ok: true; stdout: string } | { ok: false; result: CommandResult };

async function run(reader: Reader, argv: string[]): Promise<Outcome> {
  const result = await reader.slot(() =>
    reader.executor.run({ argv, readOnly: true, timeoutMs, signal: reader.signal }),
  );
  return succeeded(result) ? { ok: true, stdout: result.stdout } : { ok: false, result };
}

/** Why a read failed, in one line: the command's own complaint when it has one. */
function reasonOf(outcome: Outcome | CommandResult): string {
  if ('ok' in outcome) return outcome.ok ? 'its output is not the JSON expected' : reasonOf(outcome.result);
  const result = outcome;
  if (result.startError !== undefined) return result.startError.split('\n')[0] ?? result.startError;
  if (result.timedOut) return 'it timed out';
  const said = result.stderr.trim().split('\n')[0];
  if (said !== undefined && said !== '') return said;
  return result.signal !== undefined ? `killed by ${result.signal}` : `exit status ${result.exitCode}`;
}

/** The JSON `ip -j` printed (nothing at all is an empty list), or undefined when it is not JSON. */
function parseJson<T>(text: string): T | undefined {
  if (text.trim() === '') return [] as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

function slots(size: number): Reader['slot'] {
  let free = size;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (free === 0) await new Promise<void>((resolve) => waiting.push(resolve));
    else free--;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next === undefined) free++;
      else next(); // the slot passes straight to the next task
    }
  };
}
