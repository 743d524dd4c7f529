import type { RunMachine } from './machine.js';

/**
 * The statecharts the engine runs, as data and as a Mermaid diagram. Each is read from the very
 * machine object its verb executes (buildRunMachine, buildUndoMachine or buildCheckMachine of
 * the plan): its state nodes, their invoked actors, and every transition (events, eventless
 * `always`, `onDone` / `onError` of invoked actors) with its guard. A state that invokes a
 * machine (the walk's `Step` invokes the verb's step machine) holds that machine's states,
 * nested under it, as the state does while it runs.
 * Nothing here is drawn by hand, so the picture cannot drift from the engine. Pure: no I/O.
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
  /** The state's description, when it has one. */
  description?: string | undefined;
  /** For a state of an invoked machine: that machine's id ("step"). */
  machine?: string | undefined;
  /** For a final state: the output it gives (a step's final states give its outcome). */
  output?: unknown;
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
  /** The raw xstate event type, e.g. "xstate.done.actor.0.step.check". */
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
  output?: unknown;
  transitions: ReadonlyMap<string, readonly TransitionLike[]>;
  always?: readonly TransitionLike[] | undefined;
}
/** A machine as this module reads it: its root, and its named actors (an invoked machine has a root too). */
interface MachineLike {
  root: unknown;
  implementations?: { actors?: Record<string, unknown> } | undefined;
}
interface TransitionLike {
  target?: readonly StateNodeLike[] | undefined;
  guard?: unknown;
  actions: readonly unknown[];
}

/**
 * Walks a run machine (or any xstate v5 machine) into nodes and transitions. A state that
 * invokes a machine gets that machine's states as its children, ids prefixed with its own:
 * "Step.check".
 */
export function machineGraph(machine: Pick<RunMachine, 'root'> | MachineLike): MachineGraph {
  const nodes: GraphNode[] = [];
  const transitions: GraphTransition[] = [];

  /** Walks one machine; `host` is the id of the state that invokes it (null: the top machine). */
  const walk = (logic: MachineLike, host: string | null) => {
    const root = logic.root as StateNodeLike;
    const idOf = (node: StateNodeLike) => {
      const own = stripRoot(node.id, root.id);
      return host === null ? own : `${host}.${own}`;
    };
    const invokedMachine = (src: unknown): MachineLike | undefined => {
      const actor = typeof src === 'string' ? logic.implementations?.actors?.[src] : src;
      return actor !== null && typeof actor === 'object' && 'root' in actor ? (actor as MachineLike) : undefined;
    };

    const visit = (node: StateNodeLike) => {
      if (node !== root) {
        const id = idOf(node);
        const invoked = node.invoke.map((i) => invokedMachine(i.src)).find((m) => m !== undefined);
        nodes.push({
          id,
          key: node.key,
          parent: node.parent === undefined || node.parent === root ? host : idOf(node.parent),
          type: node.type,
          // A state that invokes a machine starts where that machine starts.
          initial: invoked === undefined ? initialOf(node, idOf) : `${id}.${initialOfMachine(invoked)}`,
          invoke: node.invoke.map((i) => ({
            src: typeof i.src === 'string' ? i.src : 'inline',
            input: staticValue(i.input),
          })),
          entry: node.entry.map(actionOf),
          ...(node.description !== undefined && { description: node.description }),
          ...(host !== null && { machine: root.id }),
          ...(node.type === 'final' && node.output !== undefined && { output: staticValue(node.output) }),
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
                source: id,
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
        if (invoked !== undefined) walk(invoked, id);
      }
      for (const child of Object.values(node.states)) visit(child);
    };
    visit(root);
  };
  walk(machine as MachineLike, null);

  return { machine: (machine.root as StateNodeLike).id, initial: initialOfMachine(machine), nodes, transitions };
}

function initialOfMachine(machine: MachineLike): string | null {
  const root = machine.root as StateNodeLike;
  return initialOf(root, (n) => stripRoot(n.id, root.id));
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

/** A step of the plan, as the diagram lists it beside the machine. */
export interface PlanStepNote {
  id: string;
  /** No `do`: a pure verification (check → ok, or → diagnosing). */
  verifyOnly?: true;
  /** `undo: none`: why the step cannot be undone. */
  noUndo?: string;
  /** `when:` (issue 28): the condition that decides whether the step runs at all, as a command line. */
  when?: string;
}

/**
 * Mermaid `stateDiagram-v2`: one composite state per state that has states inside (the run's
 * `Step`, holding the step machine's phases), final states drawn as `→ [*]`. Ids are made
 * Mermaid-safe (no "-" or "."): "Step.check" becomes `Step__check`, labelled "check".
 *
 * Mermaid cannot draw an edge from a state inside a composite to a state outside it, so such
 * a transition would be drawn from the composite instead, naming the states it leaves from.
 *
 * The plan's steps, which the walk takes through `Step` one after another, are listed in a note
 * beside `Starting` (headed `stepsNote`), marked when a step has no `do` or cannot be undone.
 */
export function toMermaid(
  graph: MachineGraph,
  options: { title?: string; steps?: readonly PlanStepNote[]; stepsNote?: string } = {},
): string {
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
      if ((children.get(node.id) ?? []).length > 0) {
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
  const first = graph.initial;
  if (options.steps !== undefined && first !== null) {
    lines.push(
      `  note left of ${mermaidId(first)}`,
      `    ${label(options.stepsNote ?? 'the steps, in order, each run by Step')}`,
    );
    for (const step of options.steps) {
      const marks = [
        step.when !== undefined ? `only when ${step.when}` : '',
        step.verifyOnly ? 'no do' : '',
        step.noUndo !== undefined ? `not undoable, ${step.noUndo}` : '',
      ];
      const text = marks.filter((m) => m !== '').join(', ');
      // Mermaid ends a note at the words "end note", wherever they are.
      lines.push(`    ${label(text === '' ? step.id : `${step.id} (${text})`).replace(/end\s*note/gi, 'end-note')}`);
    }
    lines.push('  end note');
  }
  return `${lines.join('\n')}\n`;
}

/** "Step.check" → "Step__check"; "veth-pair" → "veth_pair". */
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
  const outcome = (node.output as { outcome?: unknown } | undefined)?.outcome;
  if (typeof outcome === 'string') parts.push(`outcome ${outcome}`);
  if (node.description !== undefined) parts.push(node.description);
  return parts.length === 0 ? undefined : label(parts.join(', '));
}

function transitionLabel(t: GraphTransition): string {
  const what = t.kind === 'always' ? '' : t.kind === 'event' ? t.event : t.kind;
  const guard = t.guard === null ? '' : `[${t.guard}]`;
  return [what, guard].filter((s) => s !== '').join(' ');
}
