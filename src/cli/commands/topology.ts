import { exitCodeFor, RunbookError } from '../../errors.js';
import { createHostExecutor } from '../../host/host-executor.js';
import { succeeded, type Executor } from '../../exec/types.js';
import { requirePrograms } from '../../host/preflight.js';
import { printable } from '../../text/plain-text.js';
import { readTopology } from '../../topology/read-topology.js';
import { renderDot } from '../../topology/render-dot.js';
import { renderMermaid } from '../../topology/render-mermaid.js';
import { renderText } from '../../topology/render-text.js';
import { defineCommand } from '../command-spec.js';
import { runbookCommand } from '../../suggestion.js';
import type { CliContext } from '../context.js';
import { choiceOption, flag, option, type OptionsOf } from '../option-spec.js';
import { afterInterrupt, withInterruptSignal } from '../signals.js';

export const topologyFormats = ['text', 'mermaid', 'dot', 'svg'] as const;

const topologyOptions = {
  format: choiceOption(
    '--format <format>',
    'text (a tree, for terminals), mermaid (for Markdown), dot (for Graphviz) or svg (runs dot)',
    topologyFormats,
    'text',
  ),
  json: flag('--json', 'print the topology as JSON', { conflicts: ['format'] }),
  run: option('--run <run-id>', 'highlight one run\'s objects: a run id, a unique prefix of one, or "latest"', {
    complete: 'runs',
  }),
};

export type TopologyOptions = OptionsOf<typeof topologyOptions>;

export const command = defineCommand({
  name: 'topology',
  description:
    'draw the host as the kernel holds it now: namespaces, links, veth pairs, bridge, addresses, routes, NAT; and which run made each piece (nothing is changed)',
  options: topologyOptions,
  help: `
Reads the live kernel (ip -j, iptables -S, /proc/sys/net/ipv4/ip_forward) in this host and every
network namespace \`ip netns\` lists; changes nothing, takes no lock. Each piece is marked:
  made rN    made by run rN (the legend names the run and its runbook), from the journals
  found rN   found in place by run rN: it was there before that run
  unknown    no run recorded in this state dir made it or found it
A veth pair is drawn between its two ends, a bridge port to its bridge, a route as an arrow to
the link it leaves by. Without root, what cannot be read is named, not left out silently.`,
  examples: [
    ['sudo runbook topology', 'this host, as a tree'],
    ['sudo runbook --in lab topology', 'inside sandbox lab'],
    ['sudo runbook topology --format svg > host.svg', 'a picture (needs Graphviz: apt-get install graphviz)'],
    ['sudo runbook topology --format mermaid', 'paste into Markdown (GitHub renders it)'],
    ['sudo runbook topology --run latest', 'what the latest run made stands out'],
    ["sudo runbook topology --json | jq '.edges'", 'the cables (veth pairs, bridge ports), from the JSON'],
  ],
  exitCodes: {
    ok: 'drawn',
    stepFailed: 'Graphviz could not lay it out (--format svg)',
    invalidInput: 'a bad flag, an unknown run, or --format svg without Graphviz (dot) installed; nothing was changed',
    locked: null,
    interrupted: 'interrupted; nothing was changed',
  },
  // Reads the journals to say who made what; changes nothing, locks nothing (issue 29).
  stateDir: 'read',
  dueRuns: 'report',
  action: (ctx, _args, options) => topologyCommand(ctx, options),
});

/**
 * `runbook topology`: the host as the kernel holds it now (namespaces, links, veth pairs, the
 * bridge, addresses, routes, forwarding and NAT), each piece marked with the run that made it.
 * Reads only: it changes nothing, takes no lock, and reverts nothing (issue 29).
 */
export async function topologyCommand(ctx: CliContext, options: TopologyOptions): Promise<number> {
  const { store } = ctx; // opened for reading by the door: topology writes nothing there
  const note = (text: string) => ctx.err(`note: ${text}`);
  const highlight = options.run === undefined ? undefined : store.findRun(options.run, note).id;
  const format = options.json === true ? 'json' : options.format;
  const executor = logged(ctx, createHostExecutor());
  // Said before anything is read: the picture cannot be made without it.
  if (format === 'svg') requirePrograms(executor, [['dot']], 'runbook topology --format svg (it runs Graphviz)');

  let interrupted = false;
  const output = await withInterruptSignal(
    ctx,
    async (signal) => {
      const topology = await readTopology({ executor, store, signal, highlight, onNote: note });
      interrupted = signal.aborted;
      if (interrupted) return '';
      if (format !== 'text') for (const why of topology.unreadable) ctx.err(`warning: not drawn: ${printable(why)}`);
      if (topology.unreadable.length > 0 && process.getuid?.() !== 0)
        ctx.err(
          `hint: run it as root to read every namespace and the iptables rules: ${ctx.render({ ...runbookCommand('topology'), asRoot: true })}`,
        );
      if (highlight !== undefined && !topology.runs.some((run) => run.id === highlight))
        note(`run ${highlight} made or found nothing that is here now: nothing is highlighted`);
      switch (format) {
        case 'json':
          return `${JSON.stringify(topology, null, 2)}\n`;
        case 'mermaid':
          return renderMermaid(topology);
        case 'dot':
          return renderDot(topology);
        case 'svg':
          return renderSvg(renderDot(topology), executor, signal);
        default:
          return renderText(topology);
      }
    },
    afterInterrupt.topology,
  );
  if (interrupted) return exitCodeFor('interrupted');
  ctx.out(output.replace(/\n$/, ''));
  return exitCodeFor('ok');
}

/** With --verbose, each command read with is logged when it ends (as `check` logs its commands). */
function logged(ctx: CliContext, executor: Executor): Executor {
  if (!ctx.debugEnabled) return executor;
  return {
    ...executor,
    run: async (request) => {
      const result = await executor.run(request);
      ctx.logger.debug({ argv: request.argv, exitCode: result.exitCode, durationMs: result.durationMs }, 'command');
      return result;
    },
  };
}

/** The DOT text laid out by Graphviz: `dot -Tsvg`, the text on its standard input. */
async function renderSvg(dot: string, executor: Executor, signal: AbortSignal): Promise<string> {
  const result = await executor.run({ argv: ['dot', '-Tsvg'], input: dot, readOnly: true, timeoutMs: 60_000, signal });
  if (!succeeded(result))
    throw new RunbookError(
      'step-failed',
      `Graphviz could not lay out the topology (dot -Tsvg): ${printable(result.startError ?? result.stderr.trim())}`,
      { hint: 'try --format dot, and lay it out with another Graphviz' },
    );
  return result.stdout;
}
