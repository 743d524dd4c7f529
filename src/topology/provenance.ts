import type { JournalLine } from '../journal/entries.js';
import { readRunHistory } from '../engine/run-history.js';
import { effectsOf, type Effect, type Namespace } from './effects.js';

/**
 * Who made what (issue 29): the journals of this host's runs, replayed in the order the runs
 * started, say which run made each object that is still there. A `do` command that succeeded
 * (or was cut off, and so may have) made what effects.ts reads from its argv; a step found
 * already in place ("ok") found what its `do` commands would have made. What a rollback undid
 * is not counted: the step is gone from the run's record. The live kernel decides what is
 * drawn; this only annotates it. Pure: the journals come in as data (runs-here.ts reads them).
 */

/** A run as the picture names it. */
export interface RunRef {
  id: string;
  runbook: string;
  status: string;
}

/** What the journals say of one object. */
export type Provenance =
  | { kind: 'made'; run: RunRef }
  | { kind: 'found'; run: RunRef }
  /** No run recorded here made it or found it in place. */
  | { kind: 'unknown' };

export const unknown: Provenance = { kind: 'unknown' };

/** One run's journal, as read from the state dir. */
export interface RecordedRun {
  run: RunRef;
  lines: readonly JournalLine[];
}

interface Entry {
  provenance: Exclude<Provenance, { kind: 'unknown' }>;
  /** The route's device, the port's bridge, the setting's value: what must also match. */
  detail?: string | undefined;
}

/**
 * The record of who made what, keyed by object: ("link", NS, NAME), ("addr", NS, DEV, ADDRESS), ….
 * Namespace "" is the host (where the runs ran).
 */
export class Ledger {
  private readonly entries = new Map<string, Entry>();

  /** Replays runs, oldest first. */
  static of(runs: readonly RecordedRun[]): Ledger {
    const ledger = new Ledger();
    for (const run of runs) ledger.replay(run);
    return ledger;
  }

  netns(name: string): Provenance {
    return this.get(key('netns', name));
  }

  link(ns: Namespace, name: string): Provenance {
    return this.get(key('link', ns, name));
  }

  address(ns: Namespace, dev: string, address: string): Provenance {
    return this.get(key('addr', ns, dev, address));
  }

  /** A route to `dst`: the run's, when the run named no device or this same one. */
  route(ns: Namespace, dst: string, dev: string | undefined): Provenance {
    const entry = this.entries.get(key('route', ns, dst));
    if (entry === undefined || (entry.detail !== undefined && entry.detail !== dev)) return unknown;
    return entry.provenance;
  }

  /** The link's attachment to `master` (a bridge port). */
  port(ns: Namespace, name: string, master: string): Provenance {
    const entry = this.entries.get(key('port', ns, name));
    return entry !== undefined && entry.detail === master ? entry.provenance : unknown;
  }

  rule(ns: Namespace, table: string, chain: string, spec: string): Provenance {
    return this.get(key('rule', ns, table, chain, spec));
  }

  /** A setting: the run's only while it still has the value the run gave it. */
  sysctl(ns: Namespace, name: string, value: string): Provenance {
    const entry = this.entries.get(key('sysctl', ns, name));
    return entry !== undefined && entry.detail === value ? entry.provenance : unknown;
  }

  private get(key: string): Provenance {
    return this.entries.get(key)?.provenance ?? unknown;
  }

  private replay({ run, lines }: RecordedRun): void {
    let history: ReturnType<typeof readRunHistory>;
    try {
      history = readRunHistory(lines);
    } catch {
      return; // not a run journal: nothing to say (runs-here.ts notes damaged runs)
    }
    const undone = new Set(history.undoneSteps);
    const plan = new Map(history.start.plan.steps.map((step) => [step.id, step]));
    const made = { kind: 'made' as const, run };
    const found = { kind: 'found' as const, run };
    // The engine runs one command at a time: a `do` command's end is the very next entry.
    let pending: { step: string; argv: readonly string[] } | undefined;
    const applyPending = () => {
      if (pending !== undefined && !undone.has(pending.step)) this.apply(effectsOf(pending.argv), made);
      pending = undefined;
    };
    for (const line of lines) {
      if (line.type === 'command-end' && line.phase === 'do' && pending !== undefined) {
        const ok = line.accepted ?? (line.exitCode === 0 && !line.timedOut);
        // A command cut off (timeout, signal) may have taken effect: the kernel will say.
        if (ok || line.timedOut || line.signal !== undefined) applyPending();
        pending = undefined;
        continue;
      }
      applyPending(); // a `do` start followed by anything else: the process died in it
      if (line.type === 'command-start' && line.phase === 'do') pending = { step: line.step, argv: line.argv };
      if (line.type === 'step-end' && line.outcome === 'ok') {
        for (const command of plan.get(line.step)?.do ?? []) this.apply(effectsOf(command.argv), found);
      }
    }
    applyPending();
  }

  /** Records effects; a "found" never hides a "made" (the run that made it is the better answer). */
  private apply(effects: readonly Effect[], provenance: Entry['provenance']): void {
    const set = (key: string, detail?: string) => {
      if (provenance.kind === 'found' && this.entries.get(key)?.provenance.kind === 'made') return;
      this.entries.set(key, { provenance, detail });
    };
    for (const effect of effects) {
      switch (effect.kind) {
        case 'netns-add':
          set(key('netns', effect.name));
          break;
        case 'netns-del':
          if (provenance.kind === 'made')
            this.forget((parts) => (parts[0] === 'netns' && parts[1] === effect.name) || parts[1] === effect.name);
          break;
        case 'link-add':
          set(key('link', effect.ns, effect.name));
          break;
        case 'link-del':
          if (provenance.kind === 'made') this.forgetLink(effect.ns, effect.name);
          break;
        case 'link-move': {
          if (provenance.kind === 'found') {
            set(key('link', effect.toNs, effect.toName));
            break;
          }
          const before = this.entries.get(key('link', effect.ns, effect.name));
          this.forgetLink(effect.ns, effect.name);
          // A link the run moved keeps who made it; one nobody recorded is the mover's.
          this.entries.set(key('link', effect.toNs, effect.toName), before ?? { provenance });
          break;
        }
        case 'link-master':
          if (effect.master === undefined) {
            if (provenance.kind === 'made') this.entries.delete(key('port', effect.ns, effect.name));
          } else set(key('port', effect.ns, effect.name), effect.master);
          break;
        case 'addr-add':
          set(key('addr', effect.ns, effect.dev, effect.address));
          break;
        case 'addr-del':
          if (provenance.kind === 'made') this.entries.delete(key('addr', effect.ns, effect.dev, effect.address));
          break;
        case 'route-add':
          set(key('route', effect.ns, effect.dst), effect.dev);
          break;
        case 'route-del':
          if (provenance.kind === 'made') this.entries.delete(key('route', effect.ns, effect.dst));
          break;
        case 'rule-add':
          set(key('rule', effect.ns, effect.table, effect.chain, effect.spec));
          break;
        case 'rule-del':
          if (provenance.kind === 'made')
            this.entries.delete(key('rule', effect.ns, effect.table, effect.chain, effect.spec));
          break;
        case 'sysctl':
          set(key('sysctl', effect.ns, effect.key), effect.value);
          break;
      }
    }
  }

  /** A link gone (deleted, or moved away): with it go its addresses and its bridge port. */
  private forgetLink(ns: Namespace, name: string): void {
    this.entries.delete(key('link', ns, name));
    this.entries.delete(key('port', ns, name));
    this.forget((parts) => parts[0] === 'addr' && parts[1] === ns && parts[2] === name);
  }

  private forget(which: (parts: string[]) => boolean): void {
    for (const k of [...this.entries.keys()]) if (which(JSON.parse(k) as string[])) this.entries.delete(k);
  }
}

/**
 * An object's key: its kind and the names that identify it. Names come from the kernel and
 * from journals, and may hold any character: JSON keeps the parts apart.
 */
function key(...parts: string[]): string {
  return JSON.stringify(parts);
}
