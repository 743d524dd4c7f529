import type { RunMachine } from './machine.js';

/**
 * The statechart the engine runs, as data and as a Mermaid diagram. It is read from the very
 * machine object that `run` executes (buildRunMachine(plan)): its state nodes, their invoked
 * actors, and every transition (events, eventless `always`, `onDone` / `onError` of invoked
 * actors and of step nodes) with its guard. Nothing here is drawn by hand, so the picture
 * cannot drift from the engine. Pure: no I/O.
 */

export type NodeType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface GraphNode {
  /** Path from the root, dot-separated, without the machine id: "namespace.check". */
  id: string;
  /** Its name inside its parent: "check". */
  key: string;
  /** The parent's id, or null for a top-level node. */
  parent: string | null;
  type: NodeType;
  /** For a compound node: the id of its initial child. */
  initial: string | null;
  /** Named actors it invokes while active (runChecks, runCommands, runProbes), with their input. */
  invoke: Array<{ src: string; input: unknown }>;
  /** Named actions run on entry (with their params, when static). */
  entry: Array<{ type: string; params: unknown }>;
  /** The state's description, when it has one (a step's "changed" that cannot be undone says so). */
  description?: string | undefined;
}

export type TransitionKind = 'event' | 'always' | 'done' | 'error';

export interface GraphTransition {
  source: string;
  target: string;
  /**
   * event: a named event (e.g. "start"); always: eventless, taken as soon as the guard holds;
   * done: the invoked actor finished (for a step node: the step reached a final state);
   * error: the invoked actor threw.
   */
  kind: TransitionKind;
  /** The raw xstate event type, e.g. "xstate.done.actor.0.run.namespace.check". */
  event: string;
  /** The guard's name; "else" for the unguarded fallback after guarded alternatives; null if none. */
  guard: string | null;
  actions: string[];
}

export interface MachineGraph {
  machine: string;
  initial: string | null;
  nodes: GraphNode[];
  transitions: GraphTransition[];
}

/** The subset of xstate's StateNode this module reads (kept structural, so tests need no casts). */
interface StateNodeLike {
  id: string;
  key: string;
  type: NodeType;
  parent?: StateNodeLike | undefined;
  states: Record<string, StateNodeLike>;
  initial?: { target: readonly StateNodeLike[] } | undefined;
  invoke: ReadonlyArray<{ src: unknown; id: string; input?: unknown }>;
  entry: readonly unknown[];
  description?: string | undefined;
  transitions: ReadonlyMap<string, readonly TransitionLike[]>;
  always?: readonly TransitionLike[] | undefined;
}
interface TransitionLike {
  target?: readonly StateNodeLike[] | undefined;
  guard?: unknown;
  actions: readonly unknown[];
}

/** Walks a run machine (or any xstate v5 machine) into nodes and transitions. */
export function machineGraph(machine: Pick<RunMachine, 'root'> | { root: unknown }): MachineGraph {
  const root = machine.root as unknown as StateNodeLike;
  const idOf = (node: StateNodeLike) => stripRoot(node.id, root.id);
  const nodes: GraphNode[] = [];
  const transitions: GraphTransition[] = [];

  const visit = (node: StateNodeLike) => {
    if (node !== root) {
      nodes.push({
        id: idOf(node),
        key: node.key,
        parent: node.parent === undefined || node.parent === root ? null : idOf(node.parent),
        type: node.type,
        initial: initialOf(node, idOf),
        invoke: node.invoke.map((i) => ({
          src: typeof i.src === 'string' ? i.src : 'inline',
          input: staticValue(i.input),
        })),
        entry: node.entry.map(actionOf),
        ...(node.description !== undefined && { description: node.description }),
      });
      const doneEvents = new Set(node.invoke.map((i) => `xstate.done.actor.${i.id}`));
      const errorEvents = new Set(node.invoke.map((i) => `xstate.error.actor.${i.id}`));
      const kindOf = (event: string): TransitionKind =>
        doneEvents.has(event) || event === `xstate.done.state.${node.id}`
          ? 'done'
          : errorEvents.has(event)
            ? 'error'
            : 'event';
      const add = (event: string, kind: TransitionKind, list: readonly TransitionLike[]) => {
        const guarded = list.some((t) => t.guard !== undefined);
        for (const t of list) {
          for (const target of t.target ?? []) {
            transitions.push({
              source: idOf(node),
              target: idOf(target),
              kind,
              event,
              guard: t.guard === undefined ? (guarded ? 'else' : null) : guardName(t.guard),
              actions: t.actions.map((a) => actionOf(a).type),
            });
          }
        }
      };
      if (node.always !== undefined) add('', 'always', node.always);
      for (const [event, list] of node.transitions) add(event, kindOf(event), list);
    }
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(root);

  return { machine: root.id, initial: initialOf(root, idOf), nodes, transitions };
}

function stripRoot(id: string, rootId: string): string {
  return id.startsWith(`${rootId}.`) ? id.slice(rootId.length + 1) : id;
}

function initialOf(node: StateNodeLike, idOf: (n: StateNodeLike) => string): string | null {
  const target = node.initial?.target[0];
  return target === undefined ? null : idOf(target);
}

function guardName(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (guard !== null && typeof guard === 'object' && 'type' in guard) return String((guard as { type: unknown }).type);
  if (typeof guard === 'function') return guard.name || 'inline guard';
  return 'guard';
}

function actionOf(action: unknown): { type: string; params: unknown } {
  if (typeof action === 'string') return { type: action, params: undefined };
  if (action !== null && typeof action === 'object' && 'type' in action) {
    const a = action as { type: unknown; params?: unknown };
    return { type: String(a.type), params: staticValue(a.params) };
  }
  if (typeof action === 'function') return { type: action.name || 'inline action', params: undefined };
  return { type: 'action', params: undefined };
}

/** Params and inputs given as plain data are kept; ones computed from the event at run time are not. */
function staticValue(value: unknown): unknown {
  if (value === undefined || typeof value === 'function') return undefined;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Mermaid

/**
 * Mermaid `stateDiagram-v2`: one composite state per compound node (a step), its phases
 * nested inside, final states drawn as `→ [*]`. Ids are made Mermaid-safe (no "-" or "."):
 * "veth-pair.check" becomes `veth_pair__check`, labelled "check". Step ids never hold "_",
 * so the mapping cannot merge two states.
 *
 * Mermaid cannot draw an edge from a state inside a composite to a state outside it, so such
 * a transition (a phase's `error → Aborted`) is drawn from the composite instead, naming the
 * phases it leaves from: "error from check, do, verify, diagnosing".
 */
export function toMermaid(graph: MachineGraph, options: { title?: string } = {}): string {
  const lines: string[] = [];
  if (options.title !== undefined) lines.push('---', `title: ${label(options.title)}`, '---');
  lines.push('stateDiagram-v2');
  const children = new Map<string | null, GraphNode[]>();
  for (const node of graph.nodes) children.set(node.parent, [...(children.get(node.parent) ?? []), node]);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const parentOf = (id: string): string | null => byId.get(id)?.parent ?? null;
  const ancestry = (id: string): Array<string | null> => {
    const chain: Array<string | null> = [];
    for (let p = parentOf(id); ; p = parentOf(p)) {
      chain.unshift(p);
      if (p === null) return chain;
    }
  };
  /** The ancestor of `id` (or itself) whose parent is `scope`. */
  const within = (id: string, scope: string | null): string => {
    let current = id;
    while (parentOf(current) !== scope) current = parentOf(current) as string;
    return current;
  };

  // Each transition goes to the scope of the nearest state containing both ends.
  const edges = new Map<string | null, Map<string, { source: string; target: string; text: string; from: string[] }>>();
  for (const t of graph.transitions) {
    const a = ancestry(t.source);
    const b = ancestry(t.target);
    let depth = 0;
    while (depth + 1 < a.length && depth + 1 < b.length && a[depth + 1] === b[depth + 1]) depth += 1;
    const scope = a[depth] ?? null;
    const source = within(t.source, scope);
    const target = within(t.target, scope);
    const text = transitionLabel(t);
    const key = `${source}\0${target}\0${text}`;
    const inScope = edges.get(scope) ?? new Map();
    edges.set(scope, inScope);
    const edge = inScope.get(key) ?? { source, target, text, from: [] };
    inScope.set(key, edge);
    if (source !== t.source) edge.from.push(byId.get(t.source)?.key ?? t.source);
  }

  const emit = (parent: string | null, indent: string) => {
    const initial = parent === null ? graph.initial : (byId.get(parent)?.initial ?? null);
    if (initial !== null) lines.push(`${indent}[*] --> ${mermaidId(initial)}`);
    for (const node of children.get(parent) ?? []) {
      const id = mermaidId(node.id);
      if (node.type === 'compound' || node.type === 'parallel') {
        lines.push(`${indent}state "${label(node.key)}" as ${id} {`);
        emit(node.id, `${indent}  `);
        lines.push(`${indent}}`);
      } else {
        lines.push(`${indent}state "${label(node.key)}" as ${id}`);
        const note = describe(node);
        if (note !== undefined) lines.push(`${indent}${id} : ${note}`);
        if (node.type === 'final') lines.push(`${indent}${id} --> [*]`);
      }
    }
    for (const edge of edges.get(parent)?.values() ?? []) {
      const text = label(
        [edge.text, edge.from.length > 0 ? `from ${edge.from.join(', ')}` : ''].filter((s) => s !== '').join(' '),
      );
      lines.push(`${indent}${mermaidId(edge.source)} --> ${mermaidId(edge.target)}${text === '' ? '' : ` : ${text}`}`);
    }
  };
  emit(null, '  ');
  return `${lines.join('\n')}\n`;
}

/** "namespace.check" → "namespace__check"; "veth-pair" → "veth_pair". */
export function mermaidId(id: string): string {
  return id.replace(/\./g, '__').replace(/[^A-Za-z0-9_]/g, '_');
}

/** Text Mermaid accepts in a label: no quotes, colons, semicolons or comment signs. */
function label(text: string): string {
  return text.replace(/[":;#%{}]/g, ' ').trim();
}

function describe(node: GraphNode): string | undefined {
  const parts = node.invoke.map((i) => {
    const phase = (i.input as { phase?: unknown } | undefined)?.phase;
    return `invoke ${i.src}${typeof phase === 'string' ? ` (${phase})` : ''}`;
  });
  for (const action of node.entry) {
    const outcome = (action.params as { outcome?: unknown } | undefined)?.outcome;
    if (action.type === 'stepFinished' && typeof outcome === 'string') parts.push(`outcome ${outcome}`);
  }
  if (node.description !== undefined) parts.push(node.description);
  return parts.length === 0 ? undefined : label(parts.join(', '));
}

function transitionLabel(t: GraphTransition): string {
  const what = t.kind === 'always' ? '' : t.kind === 'event' ? t.event : t.kind;
  const guard = t.guard === null ? '' : `[${t.guard}]`;
  return [what, guard].filter((s) => s !== '').join(' ');
}
