import { runExitCodes, type CommandSpec, type ProgramSpec } from '../command-spec.js';
import { globalOptions } from '../context.js';

/**
 * Every command of runbook, in the order `runbook --help` lists them. Each module declares its
 * command (`export const command = defineCommand({…})`, next to its action) and is imported
 * only when needed: `runbook --version` imports none, `runbook list` only list.ts, so neither
 * pays for loading execa, xstate, zod and pino (docs/performance.md). `runbook --help` imports
 * them all. To add a command: a module here, one line below (CONTRIBUTING.md).
 */
export const commandLoaders = {
  list: async () => (await import('./list.js')).command,
  show: async () => (await import('./show.js')).command,
  run: async () => (await import('./run.js')).command,
  resume: async () => (await import('./resume.js')).command,
  rollback: async () => (await import('./rollback.js')).command,
  confirm: async () => (await import('./confirm.js')).command,
  prune: async () => (await import('./prune.js')).command,
  runs: async () => (await import('./runs.js')).command,
  journal: async () => (await import('./journal.js')).command,
  check: async () => (await import('./check.js')).command,
  plan: async () => (await import('./plan.js')).command,
  graph: async () => (await import('./graph.js')).command,
  topology: async () => (await import('./topology.js')).command,
  sandbox: async () => (await import('./sandbox.js')).command,
  completion: async () => (await import('./completion.js')).command,
  __complete: async () => (await import('./completion.js')).wordsCommand,
  __watchdog: async () => (await import('./watchdog.js')).command,
  '__revert-due': async () => (await import('./watchdog.js')).revertDueCommand,
} satisfies Record<string, () => Promise<CommandSpec>>;

export type CommandName = keyof typeof commandLoaders;

/** Every command's declaration, in order. */
export async function loadAllCommands(): Promise<CommandSpec[]> {
  return Promise.all(Object.values(commandLoaders).map((load) => load()));
}

/** `runbook` itself: its global options, and the overview `runbook --help` prints. */
export const program: ProgramSpec = {
  name: 'runbook',
  description:
    'Host setup as journaled, verified, reversible steps. First job: Linux container networking from scratch.',
  options: globalOptions,
  examples: [
    ['runbook list', 'the runbooks you can run'],
    ['runbook show single-container', 'its steps and the exact commands, nothing run'],
    ['sudo runbook run single-container --sandbox', 'run it in a throwaway sandbox host (needs root, no VM)'],
    [
      'sudo runbook sandbox create; sudo runbook --in lab run single-container',
      'the same in a sandbox host that stays',
    ],
    ['sudo runbook run single-container', 'run it on this host (a tutorial-like VM)'],
    [
      'sudo runbook run single-container --sandbox --set container=web1 --set container_cidr=172.16.0.9/24 --set gateway=172.16.0.9',
      'with a container and addresses of your choosing',
    ],
    ['runbook runs', 'every run and its status'],
    ['runbook journal latest', 'what the latest run did, command by command'],
    ['sudo runbook topology', 'the host as the kernel holds it, and which run made what'],
  ],
  exitCodes: runExitCodes,
};
