import type { Command } from 'commander';
import { defaultSandboxName } from '../../sandbox/in-option.js';
import { tutorialHostAddresses } from '../../sandbox/tutorial-host.js';
import type { CliContext } from '../context.js';

/** The implementations, loaded only when a sandbox command runs (they pull in execa). */
const actions = () => import('./sandbox-actions.js');

export function registerSandboxCommands(
  program: Command,
  context: (command: Command) => CliContext,
  setExitCode: (code: number) => void,
): void {
  const sandbox = program
    .command('sandbox')
    .description(
      'persistent sandbox hosts: like the tutorial VM, kept until destroyed; act in one with `runbook --in <name> …`',
    )
    .addHelpText(
      'after',
      `
Examples:
  runbook sandbox create                       a sandbox host named "lab" (needs root)
  runbook --in lab run single-container --until host-route
  runbook --in lab resume                      runs made in a sandbox stay bound to it
  runbook sandbox shell lab                    a shell inside it: ip netns exec container1 ping -c1 10.0.0.10
  runbook sandbox list                         every sandbox and its runs
  runbook sandbox destroy lab                  remove it and everything in it`,
    );

  sandbox
    .command('create')
    .description(
      `create a sandbox host set up like the tutorial VM: uplink enp0s8 ${tutorialHostAddresses.hostIp}/24, gateway ${tutorialHostAddresses.gateway}`,
    )
    .argument('[name]', 'letters, digits, ".", "_", "-"', defaultSandboxName)
    .action(async (name: string, _opts, command: Command) => {
      setExitCode(await (await actions()).createCommand(context(command), name));
    });

  sandbox
    .command('shell')
    .description('open an interactive bash inside a sandbox, where the tutorial commands work as written')
    .argument('[name]', 'the sandbox', defaultSandboxName)
    .option('-c, --command <command>', 'run this bash command inside instead of an interactive shell')
    .action(async (name: string, opts: { command?: string }, command: Command) => {
      const { stateDir } = command.optsWithGlobals<{ stateDir?: string }>();
      setExitCode(await (await actions()).shellCommand(context(command), name, { ...opts, stateDirOption: stateDir }));
    });

  sandbox
    .command('list')
    .description('list the sandboxes and the runs made in each (id, runbook, status)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      setExitCode((await actions()).sandboxListCommand(context(command), opts));
    });

  sandbox
    .command('destroy')
    .description('remove a sandbox and everything in it: its namespaces, containers and runs')
    .argument('[name]', 'the sandbox', defaultSandboxName)
    .action(async (name: string, _opts, command: Command) => {
      setExitCode(await (await actions()).destroyCommand(context(command), name));
    });
}
