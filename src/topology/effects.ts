/**
 * What a `do` command makes, read from its argv: `ip netns add container1` makes the namespace
 * container1, `ip -n container1 addr add 172.16.0.2/24 dev ceth1` an address on ceth1 inside it.
 * `runbook topology` marks the objects it draws with the run that made them by replaying the
 * journals' `do` commands through this (issue 29). Only the commands that make or remove what
 * the topology draws are understood (ip link / addr / route / netns, iptables, sysctl); any
 * other command has no effect here, and what it made is drawn as "unknown". Pure: no I/O.
 */

/** The namespace a command acts in: "" for the one the run ran in (the host), else a name. */
export type Namespace = string;

export type Effect =
  | { kind: 'netns-add'; name: string }
  | { kind: 'netns-del'; name: string }
  | { kind: 'link-add'; ns: Namespace; name: string }
  | { kind: 'link-del'; ns: Namespace; name: string }
  /** `ip link set dev NAME netns TO` and `… name NEWNAME`: the same link, elsewhere or renamed. */
  | { kind: 'link-move'; ns: Namespace; name: string; toNs: Namespace; toName: string }
  | { kind: 'link-master'; ns: Namespace; name: string; master: string | undefined }
  | { kind: 'addr-add'; ns: Namespace; dev: string; address: string }
  | { kind: 'addr-del'; ns: Namespace; dev: string; address: string }
  | { kind: 'route-add'; ns: Namespace; dst: string; dev: string | undefined }
  | { kind: 'route-del'; ns: Namespace; dst: string; dev: string | undefined }
  | { kind: 'rule-add'; ns: Namespace; table: string; chain: string; spec: string }
  | { kind: 'rule-del'; ns: Namespace; table: string; chain: string; spec: string }
  | { kind: 'sysctl'; ns: Namespace; key: string; value: string };

/** The effects of one command, in order (usually one, none for a command not understood). */
export function effectsOf(argv: readonly string[], ns: Namespace = ''): Effect[] {
  const [program, ...args] = argv;
  if (program === undefined) return [];
  switch (program.split('/').pop()) {
    case 'ip':
      return ipEffects(args, ns);
    case 'iptables':
      return iptablesEffects(args, ns);
    case 'sysctl':
      return sysctlEffects(args, ns);
    default:
      return [];
  }
}

/**
 * `ip`'s objects in the order ip itself matches an abbreviation against them (ip.c): the first
 * whose name starts with the word wins, so `ip a` is address, `ip r` route, `ip n` neighbour.
 */
const ipObjects = [
  'address',
  'addrlabel',
  'maddress',
  'route',
  'rule',
  'neighbor',
  'neighbour',
  'ntable',
  'link',
  'l2tp',
  'fou',
  'ila',
  'macsec',
  'tunnel',
  'tuntap',
  'token',
  'tcpmetrics',
  'monitor',
  'xfrm',
  'mroute',
  'mrule',
  'netns',
] as const;

/** ip's global options that take a value (`ip -n NS …`, `ip -family inet …`). */
const ipOptionsWithValue = new Set(['-n', '-netns', '-b', '-batch', '-rc', '-rcvbuf', '-f', '-family', '-l', '-loops']);

/** ip's own abbreviation rule: `word` is a prefix of `full` (`ip a a`, `ip link del`). */
function matches(word: string | undefined, full: string): boolean {
  return word !== undefined && word.length > 0 && full.startsWith(word);
}

function ipEffects(args: readonly string[], outer: Namespace): Effect[] {
  let ns = outer;
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith('-')) break;
    const value = args[i + 1];
    if ((arg === '-n' || arg === '-netns') && value !== undefined) ns = value;
    if (ipOptionsWithValue.has(arg)) i++;
  }
  const object = ipObjects.find((name) => matches(args[i], name));
  const verb = args[i + 1];
  const rest = args.slice(i + 2);
  switch (object) {
    case 'netns':
      return netnsEffects(verb, rest);
    case 'link':
      return linkEffects(verb, rest, ns);
    case 'address':
      return addressEffects(verb, rest, ns);
    case 'route':
      return routeEffects(verb, rest, ns);
    default:
      return [];
  }
}

function netnsEffects(verb: string | undefined, rest: readonly string[]): Effect[] {
  const [name, ...command] = rest;
  if (name === undefined) return [];
  // `ip netns exec NAME COMMAND…`: COMMAND's effects, inside NAME.
  if (matches(verb, 'exec')) return effectsOf(command, name);
  if (matches(verb, 'add') || verb === 'attach') return [{ kind: 'netns-add', name }];
  if (matches(verb, 'delete')) return [{ kind: 'netns-del', name }];
  return [];
}

/** The link a command names: after `dev` or `name`, else its first word that is no keyword. */
function deviceOf(words: readonly string[], keywords: ReadonlySet<string>): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (word === 'dev' || word === 'name') return words[i + 1];
    if (keywords.has(word)) i++;
    else return word;
  }
  return undefined;
}

const linkAddKeywords = new Set(['link', 'txqueuelen', 'address', 'broadcast', 'mtu', 'index', 'numtxqueues']);

function linkEffects(verb: string | undefined, rest: readonly string[], ns: Namespace): Effect[] {
  if (verb === 'add') {
    // Up to `type`, the link's own words; after it, the type's (a veth's `peer name X [netns Y]`).
    const type = rest.indexOf('type');
    const own = type === -1 ? rest : rest.slice(0, type);
    const name = deviceOf(own, linkAddKeywords);
    if (name === undefined) return [];
    const effects: Effect[] = [{ kind: 'link-add', ns, name }];
    const peer = rest.indexOf('peer', type);
    if (type !== -1 && peer !== -1) {
      const words = rest.slice(peer + 1);
      const peerName = valueAfter(words, 'name');
      if (peerName !== undefined) {
        effects.push({ kind: 'link-add', ns, name: peerName });
        const peerNs = valueAfter(words, 'netns');
        if (peerNs !== undefined) effects.push(moveEffect(ns, peerName, peerNs, peerName));
      }
    }
    // `ip link add NAME … netns NS` creates it there directly.
    const into = valueAfter(own, 'netns');
    if (into !== undefined) effects.push(moveEffect(ns, name, into, name));
    return effects;
  }
  const name = deviceOf(rest, new Set());
  if (name === undefined) return [];
  if (matches(verb, 'delete')) return [{ kind: 'link-del', ns, name }];
  if (!matches(verb, 'set') && verb !== 'change') return [];
  const effects: Effect[] = [];
  const master = valueAfter(rest, 'master');
  if (master !== undefined) effects.push({ kind: 'link-master', ns, name, master });
  if (rest.includes('nomaster')) effects.push({ kind: 'link-master', ns, name, master: undefined });
  // `name` renames only after the device (`ip link set dev X name Y`, `ip link set X name Y`).
  const device = rest.indexOf(name);
  const renamed = valueAfter(rest.slice(device + 1), 'name');
  const toNs = valueAfter(rest, 'netns');
  if (renamed !== undefined || toNs !== undefined) effects.push(moveEffect(ns, name, toNs ?? ns, renamed ?? name));
  return effects;
}

function moveEffect(ns: Namespace, name: string, toNs: Namespace, toName: string): Effect {
  return { kind: 'link-move', ns, name, toNs, toName };
}

function valueAfter(words: readonly string[], keyword: string): string | undefined {
  const at = words.indexOf(keyword);
  return at === -1 ? undefined : words[at + 1];
}

function addressEffects(verb: string | undefined, rest: readonly string[], ns: Namespace): Effect[] {
  const add = matches(verb, 'add') || matches(verb, 'replace');
  const del = matches(verb, 'delete');
  if (!add && !del) return [];
  const dev = valueAfter(rest, 'dev');
  const local = valueAfter(rest, 'local') ?? firstWordOutside(rest, addressKeywords);
  if (dev === undefined || local === undefined) return [];
  return [{ kind: add ? 'addr-add' : 'addr-del', ns, dev, address: withPrefix(local) }];
}

/** `ip addr` keywords that take a value (`dev ceth1`, `label x`). */
const addressKeywords = new Set([
  'dev',
  'label',
  'scope',
  'broadcast',
  'brd',
  'peer',
  'valid_lft',
  'preferred_lft',
  'metric',
]);

/** The first word that is neither one of `keywords` nor the value that follows one. */
function firstWordOutside(words: readonly string[], keywords: ReadonlySet<string>): string | undefined {
  for (let i = 0; i < words.length; i++) {
    if (keywords.has(words[i] as string)) i++;
    else return words[i];
  }
  return undefined;
}

/** An address or network as the kernel shows it: with its prefix length (a bare IPv4 is /32). */
export function withPrefix(address: string): string {
  if (address === 'default' || address === '0.0.0.0/0' || address === '0/0') return 'default';
  if (address.includes('/')) return address;
  return address.includes(':') ? `${address}/128` : `${address}/32`;
}

const routeKeywords = new Set([
  'via',
  'dev',
  'src',
  'table',
  'metric',
  'proto',
  'protocol',
  'scope',
  'type',
  'mtu',
  'onlink',
  'nexthop',
  'weight',
  'realm',
  'realms',
  'tos',
  'dsfield',
  'preference',
]);

function routeEffects(verb: string | undefined, rest: readonly string[], ns: Namespace): Effect[] {
  const add = matches(verb, 'add') || matches(verb, 'replace') || matches(verb, 'append') || verb === 'change';
  const del = matches(verb, 'delete');
  if (!add && !del) return [];
  // Tables other than main are not drawn.
  const table = valueAfter(rest, 'table');
  if (table !== undefined && table !== 'main' && table !== '254') return [];
  let dst: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i] as string;
    if (routeKeywords.has(word)) {
      if (word !== 'onlink') i++;
      continue;
    }
    if (['unicast', 'local', 'broadcast', 'blackhole', 'unreachable', 'prohibit', 'throw'].includes(word)) continue;
    dst = word === 'to' ? rest[i + 1] : word;
    break;
  }
  if (dst === undefined) return [];
  return [{ kind: add ? 'route-add' : 'route-del', ns, dst: withPrefix(dst), dev: valueAfter(rest, 'dev') }];
}

/** iptables options that take a value and are not part of a rule (`-w 5`, `-t nat`). */
const iptablesOwnOptions = new Set(['-w', '--wait', '-W', '--wait-interval', '-t', '--table']);

function iptablesEffects(args: readonly string[], ns: Namespace): Effect[] {
  let table = 'filter';
  let command: { op: 'add' | 'del'; chain: string } | undefined;
  const spec: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const next = args[i + 1];
    if (arg === '-t' || arg === '--table') {
      table = next ?? table;
      i++;
    } else if (arg === '-w' || arg === '--wait' || arg === '-W' || arg === '--wait-interval') {
      // -w takes an optional number of seconds.
      if (next !== undefined && /^\d+(\.\d+)?$/.test(next)) i++;
    } else if (['-A', '--append', '-I', '--insert', '-D', '--delete'].includes(arg) && next !== undefined) {
      command = { op: arg === '-D' || arg === '--delete' ? 'del' : 'add', chain: next };
      i++;
      // -I CHAIN [N]: the position is not part of the rule.
      if ((arg === '-I' || arg === '--insert') && /^\d+$/.test(args[i + 1] ?? '')) i++;
    } else if (!iptablesOwnOptions.has(arg)) {
      spec.push(arg);
    }
  }
  if (command === undefined) return [];
  return [
    {
      kind: command.op === 'add' ? 'rule-add' : 'rule-del',
      ns,
      table,
      chain: command.chain,
      spec: canonicalRule(spec),
    },
  ];
}

const longOptions: Readonly<Record<string, string>> = {
  '--source': '-s',
  '--src': '-s',
  '--destination': '-d',
  '--dst': '-d',
  '--jump': '-j',
  '--protocol': '-p',
  '--in-interface': '-i',
  '--out-interface': '-o',
  '--goto': '-g',
  '--match': '-m',
};

/**
 * A rule's words the way `iptables -S` prints them, so that the rule a run added is found in
 * the live table: short options, and an address with its prefix length (`-s 10.0.0.1/32`).
 * Good enough for the rules the runbooks add; a rule iptables prints otherwise is "unknown".
 */
export function canonicalRule(words: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = longOptions[words[i] as string] ?? (words[i] as string);
    out.push(word);
    if ((word === '-s' || word === '-d') && words[i + 1] !== undefined) {
      out.push(withPrefix(words[i + 1] as string));
      i++;
    }
  }
  return out.join(' ');
}

function sysctlEffects(args: readonly string[], ns: Namespace): Effect[] {
  const effects: Effect[] = [];
  for (const arg of args) {
    if (arg.startsWith('-')) continue;
    const eq = arg.indexOf('=');
    if (eq <= 0) continue;
    effects.push({ kind: 'sysctl', ns, key: arg.slice(0, eq).replaceAll('/', '.'), value: arg.slice(eq + 1).trim() });
  }
  return effects;
}
