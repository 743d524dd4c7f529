import { defaultSandboxName } from '../../sandbox/in-option.js';
import { tutorialHostAddresses } from '../../sandbox/tutorial-host.js';
import { defineCommand } from '../command-spec.js';
import { flag, option } from '../option-spec.js';

/** The implementations, loaded only when a sandbox command runs (they pull in execa). */
const actions = () => import('./sandbox-actions.js');

const nameArgument = {
  name: '[name]',
  description: 'the sandbox',
  default: defaultSandboxName,
  complete: 'sandboxes',
} as const;

export const command = defineCommand({
  name: 'sandbox',
  description:
    'persistent sandbox hosts: like the tutorial VM, kept until destroyed; act in one with `runbook --in <name> …`',
  examples: [
    ['runbook sandbox create', 'a sandbox host named "lab" (needs root)'],
    ['runbook --in lab run single-container --until host-route', 'the tutorial up to its step 9, in lab'],
    ['runbook --in lab resume', 'runs made in a sandbox stay bound to it'],
    ['runbook sandbox shell lab', 'a shell inside it: ip netns exec container1 ping -c1 10.0.0.10'],
    ['runbook sandbox list', 'every sandbox and its runs'],
    ['runbook sandbox destroy lab', 'remove it and everything in it'],
  ],
  stateDir: 'none',
  subcommands: [
    defineCommand({
      name: 'create',
      description: `create a sandbox host set up like the tutorial VM: uplink enp0s8 ${tutorialHostAddresses.hostIp}/24, gateway ${tutorialHostAddresses.gateway}`,
      arguments: [{ name: '[name]', description: 'letters, digits, ".", "_", "-"', default: defaultSandboxName }],
      stateDir: 'write',
      needsRoot: 'sandbox',
      action: async (ctx, [name]) => (await actions()).createCommand(ctx, name),
    }),
    defineCommand({
      name: 'shell',
      description: 'open an interactive bash inside a sandbox, where the tutorial commands work as written',
      arguments: [nameArgument],
      options: {
        command: option('-c, --command <command>', 'run this bash command inside instead of an interactive shell'),
      },
      stateDir: 'write',
      needsRoot: 'sandbox',
      action: async (ctx, [name], options, { globals }) =>
        (await actions()).shellCommand(ctx, name, { ...options, stateDirOption: globals.stateDir }),
    }),
    defineCommand({
      name: 'list',
      description: 'list the sandboxes and the runs made in each (id, runbook, status)',
      options: { json: flag('--json', 'print JSON') },
      stateDir: 'read',
      action: async (ctx, _args, options) => (await actions()).sandboxListCommand(ctx, options),
    }),
    defineCommand({
      name: 'destroy',
      description: 'remove a sandbox and everything in it: its namespaces, containers and runs',
      arguments: [nameArgument],
      stateDir: 'write',
      needsRoot: 'sandbox',
      action: async (ctx, [name]) => (await actions()).destroyCommand(ctx, name),
    }),
  ],
});
