import { Command, CommanderError, Option } from 'commander';
import { ExitCode, exitCodes, exitCodesHelp, internalErrorExitCode, invalidInput, RunbookError } from '../errors.js';
import { concernsSandbox } from '../sandbox/in-option.js';
import { engineVersion } from '../version.js';
import { createContext, type CliContext, type GlobalOptions } from './context.js';
import { stateDirDefaultHelp } from './state-dir.js';
import { registerSandboxCommands } from './commands/sandbox.js';
import { errorJson } from './json-results.js';

// Each command's module is imported when that command runs, not before: `runbook --version`
// or `runbook list` should not pay for loading execa, xstate, zod and pino (see
// docs/performance.md).
const commands = {
  check: () => import('./commands/check.js'),
  completion: () => import('./commands/completion.js'),
  confirm: () => import('./commands/confirm.js'),
  graph: () => import('./commands/graph.js'),
  journal: () => import('./commands/journal.js'),
  list: () => import('./commands/list.js'),
  resume: () => import('./commands/resume.js'),
  rollback: () => import('./commands/rollback.js'),
  run: () => import('./commands/run.js'),
  runs: () => import('./commands/runs.js'),
  show: () => import('./commands/show.js'),
  topology: () => import('./commands/topology.js'),
};

const collect = (value: string, previous: string[]) => [...previous, value];

/** The exit codes of the commands that run steps (the table is in src/errors.ts). */
const runExitCodes = exitCodesHelp({ interrupted: `${exitCodes.interrupted.meaning}; \`runbook resume\` continues` });

/**
 * Parses the command line and dispatches to one command module. Returns the exit code rather
 * than calling process.exit(), so that logs and the journal are flushed first.
 */
export async function main(
  argv: readonly string[],
  /** For the entry-point test (test/integration/one-door.test.ts): the program, every command in it. */
  options: { onProgram?: (program: Command) => void } = {},
): Promise<number> {
  // `--in <sandbox>`: the whole command re-runs inside that sandbox host (src/sandbox/enter.ts).
  if (concernsSandbox(argv)) {
    try {
      const { runInSandboxIfAsked } = await import('./commands/sandbox-actions.js');
      const inSandbox = await runInSandboxIfAsked(argv);
      if (inSandbox !== undefined) return inSandbox;
    } catch (error) {
      return reportError(error, argv);
    }
  }
  let exitCode: number = ExitCode.ok;
  let ctx: CliContext | undefined;
  const context = (command: Command): CliContext => (ctx ??= createContext(command.optsWithGlobals<GlobalOptions>()));

  const program = new Command('runbook')
    .description(
      'Host setup as journaled, verified, reversible steps. First job: Linux container networking from scratch.',
    )
    .version(engineVersion, '-V, --version')
    .option('--state-dir <dir>', `where runs and journals are kept (${stateDirDefaultHelp})`)
    .option('-v, --verbose', 'log each command and its exit code when it ends (debug level, on stderr, through pino)')
    .option(
      '--in <sandbox>',
      'run the command inside a persistent sandbox host, with its own state dir (see `runbook sandbox`)',
    )
    .addOption(
      new Option('--log-level <level>', 'operational log level').choices([
        'trace',
        'debug',
        'info',
        'warn',
        'error',
        'silent',
      ]),
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  runbook list                                  the runbooks you can run
  runbook show single-container                 its steps and the exact commands, nothing run
  sudo runbook run single-container --sandbox   run it in a throwaway sandbox host (needs root, no VM)
  sudo runbook sandbox create; sudo runbook --in lab run single-container   the same in a sandbox host that stays
  sudo runbook run single-container             run it on this host (a tutorial-like VM)
  sudo runbook run single-container --sandbox --set container=web1 --set container_cidr=172.16.0.9/24 --set gateway=172.16.0.9
  runbook runs                                  every run and its status
  runbook journal latest                        what the latest run did, command by command
  sudo runbook topology                         the host as the kernel holds it, and which run made what

${runExitCodes}`,
    );

  program
    .command('list')
    .description(
      'list the runbooks: ./runbooks, then $RUNBOOK_PATH dirs, then the shipped ones; where each comes from and what it shadows',
    )
    .action(async (_opts, command: Command) => {
      exitCode = await (await commands.list()).listCommand(context(command));
    });

  program
    .command('show')
    .description('show a runbook: its parameters and every step with the exact commands it would run (nothing is run)')
    .argument('<runbook>', 'a name from `runbook list`, or a path to a .yaml file')
    .option('--set <key=value>', 'override a parameter (repeatable)', collect, [])
    .option('--json', 'print the rendered plan as JSON')
    .action(async (runbook: string, opts: { set: string[]; json?: boolean }, command: Command) => {
      exitCode = await (await commands.show()).showCommand(context(command), runbook, opts);
    });

  program
    .command('run')
    .description('run a runbook: each step is checked first, done only if needed, verified, and journaled')
    .argument('<runbook>', 'a name from `runbook list`, or a path to a .yaml file')
    .option('--set <key=value>', 'override a parameter (repeatable)', collect, [])
    .option(
      '--sandbox',
      "run inside a throwaway sandbox host (fresh network + mount namespace, like the tutorial VM): the real host's network and /run/netns are not touched, and /run/runbook-sandbox is a scratch tmpfs of its own; its other files and non-net.* sysctls are shared: a runbook whose commands would change them is refused (exit 2: the run could not be rolled back once the sandbox is gone), and a warning names commands that may read them",
    )
    .option(
      '--until <step-id>',
      'stop after this step (replay the tutorial stage by stage); `runbook resume` continues (not for --sandbox, whose host is gone)',
    )
    .option(
      '--rollback-on-failure',
      'if a step fails, undo what this run changed (in reverse order), then exit 1; an interrupted run is left for resume',
    )
    .option(
      '--confirm-within <duration>',
      'on success, keep the change only if `runbook confirm` comes within DURATION (90, 30s, 5m, 1h) from a new session; else a watchdog rolls it back',
    )
    .option('--explain', "after each step's line, print why the step is there (its `why:`, the tutorial's lesson)")
    .option('--json', 'print machine-readable events (one JSON object per line) instead of text')
    .addHelpText(
      'after',
      `
Each step prints one line when it completes:
  ok       the step already held; nothing was done
  changed  the step was done and verified
  failed   the step's verification failed; the diagnosis names the cause and the fix

Examples:
  sudo runbook run single-container --sandbox                      in a throwaway sandbox host
  sudo runbook run single-container                                on this host (a tutorial-like VM)
  sudo runbook run single-container --until host-route             stop at the tutorial's step 9
  sudo runbook run single-container --sandbox --explain            and say why each step is there
  sudo runbook run multi-container --sandbox --set count=3
  sudo runbook run container-internet --rollback-on-failure        undo everything if a step fails
  sudo runbook run single-container --confirm-within 2m           then, from a new ssh session:
  sudo runbook confirm                                             keep it (else it is undone after 2 min)

--confirm-within makes a change provisional, like Juniper's \`commit confirmed\` or \`netplan try\`:
the run returns at once, leaving a watchdog (its own session, no terminal, SIGHUP ignored) that
rolls the run back at the deadline unless \`runbook confirm\` came first. If the watchdog is gone,
the next run, resume, rollback or confirm here reverts the expired run first (check, runs and
journal only say so). Not with --sandbox or --until.

${runExitCodes}`,
    )
    .action(
      async (
        runbook: string,
        opts: {
          set: string[];
          sandbox?: boolean;
          until?: string;
          json?: boolean;
          rollbackOnFailure?: boolean;
          confirmWithin?: string;
          explain?: boolean;
        },
        command: Command,
      ) => {
        exitCode = await (await commands.run()).runCommand(context(command), runbook, opts, argv);
      },
    );

  program
    .command('resume')
    .description(
      'continue an interrupted, failed or --until-stopped run from its journal: finished steps are not run again',
    )
    .argument('[run-id]', 'the run to resume (default: the latest interrupted, failed or stopped run)')
    .option('--force', 'resume even though the runbook file changed since the run started (the recorded text is used)')
    .option('--until <step-id>', 'stop again after this step (the next stage of the tutorial); resume again to go on')
    .option('--json', 'print machine-readable events')
    .addHelpText(
      'after',
      `
The step that was in progress when the run stopped is checked first: a command whose result
never reached the journal may or may not have taken effect. Parameters and runbook text are the
ones recorded when the run started.

Examples:
  sudo runbook resume                        the latest interrupted, failed or stopped run here
  sudo runbook resume 20261128T145804        a run by id (or a unique prefix of it)
  sudo runbook resume --until host-route     go on to the next stage only, in the same run

${runExitCodes}`,
    )
    .action(
      async (
        runId: string | undefined,
        opts: { force?: boolean; json?: boolean; until?: string },
        command: Command,
      ) => {
        exitCode = await (await commands.resume()).resumeCommand(context(command), runId, opts);
      },
    );

  program
    .command('rollback')
    .description('undo, in reverse order, exactly the steps a run changed (never what it found already in place)')
    .argument('[run-id]', 'the run to roll back (default: the latest run with changes not yet undone)')
    .option('--all', 'every run on this host with changes not yet undone, newest first (not with a run id)')
    .option('--runbook <name>', 'with --all: only the runs of this runbook')
    .option('--force', 'roll back even if later runs built on what this run made (they lose it)')
    .option('--json', 'print machine-readable events')
    .addHelpText(
      'after',
      `
After each undo, the step's own verification must no longer hold; "already gone" counts as
undone. A rollback is journaled: if it is interrupted, run it again to finish; once finished,
running it again changes nothing and exits 0.

Changes stack up and are undone in reverse order. A later run, not rolled back, with changes
of its own, that found in place or made one of the steps this rollback would undo, builds on
this run: a new run that adopted the namespace a crashed run left and built the rest in it,
say. Then rollback refuses (exit 2, nothing changed) and names those runs: roll them back
first, newest first, or pass --force. Two steps are the same when they share an undo command
(ip netns del container1), whatever their runbook or step id.

--all undoes every run on this host that has changes left, newest first (a run, then the runs
that repaired it), stopping at the first undo that fails. Each run's undo is journaled in that
run's journal; if interrupted, run it again to finish; once finished, it does nothing. With
--runbook, it refuses as above when a run of another runbook builds on the ones it would undo.

Examples:
  sudo runbook rollback                      the latest run here with changes not yet undone
  sudo runbook rollback 20261128T145804      a run by id (or a unique prefix of it)
  sudo runbook rollback --all --runbook single-container   everything single-container did here
  sudo runbook rollback 20261128T145804 --force   even though a later run built on it

${exitCodesHelp({
  invalidInput:
    'invalid input (bad flag, unknown run), not root, a run of another host, or a later run builds on this one ' +
    '(roll it back first, or --force); nothing was changed',
  stepFailed: 'an undo left its effect in place (the message names the step)',
  interrupted: `${exitCodes.interrupted.meaning}; run \`runbook rollback\` again to finish`,
})}`,
    )
    .action(
      async (
        runId: string | undefined,
        opts: { json?: boolean; all?: boolean; runbook?: string; force?: boolean },
        command: Command,
      ) => {
        exitCode = await (await commands.rollback()).rollbackCommand(context(command), runId, opts);
      },
    );

  program
    .command('confirm')
    .description(
      'keep the change of a run made with --confirm-within: record the confirmation (who, when) and stop its watchdog',
    )
    .argument('[run-id]', "the run to confirm (default: this host's run awaiting confirmation)")
    .option('--json', 'print the outcome as JSON')
    .addHelpText(
      'after',
      `
Confirm from a NEW session (a new ssh connection): that you could open it proves the change did
not cut you off. Confirming twice changes nothing. Once the deadline has passed, the run is
reverted instead and confirm exits 1.

Examples:
  sudo runbook confirm                       this host's run awaiting confirmation
  sudo runbook confirm 20261128T145804       a run by id (or a unique prefix of it)
  sudo runbook --in lab confirm              the run awaiting confirmation in sandbox lab

${exitCodesHelp({
  ok: 'confirmed (now, or already before)',
  stepFailed: 'too late: the run was reverted (not confirmed by its deadline) or rolled back',
  invalidInput: 'no run awaits confirmation here, or the run belongs to another host; nothing was changed',
  interrupted: null,
})}`,
    )
    .action(async (runId: string | undefined, opts: { json?: boolean }, command: Command) => {
      exitCode = await (await commands.confirm()).confirmCommand(context(command), runId, opts);
    });

  program
    .command('runs')
    .description(
      'list recorded runs: id, runbook, status (running, succeeded, failed, interrupted, stopped, rolled-back, awaiting-confirmation, confirmed, reverted, damaged), start and end',
    )
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      exitCode = await (await commands.runs()).runsCommand(context(command), opts);
    });

  program
    .command('journal')
    .description(
      'show the audit trail of a run: every step and every command (as a pasteable shell line) with its result',
    )
    .argument('<run-id>', 'a run id from `runbook runs`, a unique prefix of one, or "latest"')
    .option('--json', 'print the raw journal entries (NDJSON, readable by pino-pretty too)')
    .option('--verify', "check the journal's hash chain and index: exit 0 if intact, 1 naming the first bad entry")
    .addHelpText(
      'after',
      `
Examples:
  runbook journal latest                     what the latest run did, command by command
  runbook journal latest --json | npx pino-pretty
  runbook journal 20261128T145804 --verify   was any entry altered, removed or reordered?

${exitCodesHelp({
  ok: 'the journal was shown, or --verify found it intact',
  stepFailed:
    '--verify found an entry altered, removed or reordered, or the journal cannot be read (the message names the entry)',
  invalidInput: 'no such run, or a malformed flag',
  locked: null,
  interrupted: null,
})}`,
    )
    .action(async (runId: string, opts: { json?: boolean; verify?: boolean }, command: Command) => {
      exitCode = await (await commands.journal()).journalCommand(context(command), runId, opts);
    });

  program
    .command('check')
    .description(
      "check, read-only, that the host still holds what a runbook promises: every step's verify checks run, and a step that does not hold is diagnosed",
    )
    .argument('<runbook>', 'a name from `runbook list`, or a path to a .yaml file')
    .option('--set <key=value>', 'override a parameter (repeatable); use the values the run used', collect, [])
    .option('--json', 'print the check record (the line appended to <state-dir>/audit.ndjson) as JSON')
    .addHelpText(
      'after',
      `
Nothing is changed: only the verify checks and, for a step that does not hold, its diagnose
probes run (no do, no undo). Each step prints:
  ok       the step holds
  not ok   it does not; the check that failed, the cause the probes found, and the fix follow
Every check is recorded as one line of <state-dir>/audit.ndjson (time, user, host, runbook
hash, parameters, per-step results and findings). Needs CAP_NET_ADMIN for its pings.

Examples:
  sudo runbook check single-container           does this host still hold part 1?
  sudo runbook check single-container --json    the same, as the JSON record it appends to audit.ndjson
  sudo runbook run single-container --until host-route && sudo runbook check single-container
                                                the tutorial's failed ping (step 9), diagnosed

${exitCodesHelp({
  ok: 'every step holds',
  stepFailed: 'a step does not hold (the diagnosis says why)',
  invalidInput: 'invalid input (unknown runbook, bad parameter), or not root; nothing was checked',
  locked: null,
  interrupted: 'interrupted',
})}`,
    )
    .action(async (runbook: string, opts: { set: string[]; json?: boolean }, command: Command) => {
      exitCode = await (await commands.check()).checkCommand(context(command), runbook, opts);
    });

  program
    .command('graph')
    .description(
      "print the statechart `run` executes for a runbook, generated from the engine's own machine (nothing is run)",
    )
    .argument('<runbook>', 'a name from `runbook list`, or a path to a .yaml file')
    .option('--set <key=value>', 'override a parameter (repeatable)', collect, [])
    .addOption(
      new Option(
        '--format <format>',
        'mermaid (a stateDiagram-v2 to paste into Markdown) or json (nodes and transitions)',
      )
        .choices(['mermaid', 'json'])
        .default('mermaid'),
    )
    .addHelpText(
      'after',
      `
The run walks the runbook's steps in order (listed in a note); each step is run by Step, which
invokes the one step statechart: pending → check → (ok | do → verify → (changed | diagnosing
→ failed)), plus skipped for a step an earlier attempt finished; its final states are named
after the step's outcomes. The run ends Succeeded, Failed, Stopped (--until) or Aborted.
Transitions are labelled with their event and guard.

Examples:
  runbook graph single-container > statechart.mmd
  runbook graph single-container --format json | jq '.steps[].id'`,
    )
    .action(async (runbook: string, opts: { set: string[]; format: string }, command: Command) => {
      exitCode = await (await commands.graph()).graphCommand(context(command), runbook, opts);
    });

  program
    .command('topology')
    .description(
      'draw the host as the kernel holds it now: namespaces, links, veth pairs, bridge, addresses, routes, NAT; and which run made each piece (nothing is changed)',
    )
    .addOption(
      new Option(
        '--format <format>',
        'text (a tree, for terminals), mermaid (for Markdown), dot (for Graphviz) or svg (runs dot)',
      )
        .choices(['text', 'mermaid', 'dot', 'svg'])
        .default('text'),
    )
    .addOption(new Option('--json', 'print the topology as JSON').conflicts('format'))
    .option('--run <run-id>', 'highlight one run\'s objects: a run id, a unique prefix of one, or "latest"')
    .addHelpText(
      'after',
      `
Reads the live kernel (ip -j, iptables -S, /proc/sys/net/ipv4/ip_forward) in this host and every
network namespace \`ip netns\` lists; changes nothing, takes no lock. Each piece is marked:
  made rN    made by run rN (the legend names the run and its runbook), from the journals
  found rN   found in place by run rN: it was there before that run
  unknown    no run recorded in this state dir made it or found it
A veth pair is drawn between its two ends, a bridge port to its bridge, a route as an arrow to
the link it leaves by. Without root, what cannot be read is named, not left out silently.

Examples:
  sudo runbook topology                            this host, as a tree
  sudo runbook --in lab topology                   inside sandbox lab
  sudo runbook topology --format svg > host.svg    a picture (needs Graphviz: apt-get install graphviz)
  sudo runbook topology --format mermaid           paste into Markdown (GitHub renders it)
  sudo runbook topology --run latest               what the latest run made stands out
  sudo runbook topology --json | jq '.edges'

${exitCodesHelp({
  ok: 'drawn',
  stepFailed: 'Graphviz could not lay it out (--format svg)',
  invalidInput: 'a bad flag, an unknown run, or --format svg without Graphviz (dot) installed; nothing was changed',
  locked: null,
  interrupted: 'interrupted; nothing was changed',
})}`,
    )
    .action(async (opts: { format: string; json?: boolean; run?: string }, command: Command) => {
      exitCode = await (await commands.topology()).topologyCommand(context(command), opts);
    });

  registerSandboxCommands(program, context, (code) => (exitCode = code));

  program
    .command('completion')
    .description('print a bash or zsh script that completes commands, options, runbooks, steps, runs and parameters')
    .argument('<shell>', 'bash or zsh')
    .addHelpText(
      'after',
      `
Examples:
  source <(runbook completion bash)                          in this shell (add it to ~/.bashrc to keep it)
  runbook completion bash > /etc/bash_completion.d/runbook   for everyone
  runbook completion zsh > "\${fpath[1]}/_runbook"             zsh, after compinit`,
    )
    .action(async (shell: string, _opts, command: Command) => {
      const completion = await commands.completion();
      if (!(completion.shells as readonly string[]).includes(shell))
        throw invalidInput(`no completion for shell "${shell}"`, `choose one of: ${completion.shells.join(', ')}`);
      exitCode = completion.completionCommand(context(command), shell as 'bash' | 'zsh', program);
    });

  // What the completion script asks for as you type (hidden: not for people).
  program
    .command('__complete', { hidden: true })
    .argument('<kind>')
    .argument('[runbook]')
    .option('--sandbox <name>')
    .action(async (kind: string, runbook: string | undefined, opts: { sandbox?: string }, command: Command) => {
      exitCode = (await commands.completion()).completeCommand(context(command), kind, runbook, opts);
    });

  // The watchdog of `run --confirm-within`, started detached by the run as
  // `runbook --state-dir DIR __watchdog RUN-ID` (hidden: not for people).
  program
    .command('__watchdog', { hidden: true })
    .argument('<run-id>')
    .action(async (runId: string, _opts, command: Command) => {
      exitCode = await (await import('./watchdog-main.js')).watchdogMain(context(command).store, runId);
    });

  // The one door (issue 22): before any command's action, hidden ones and sandbox subcommands
  // included, the state dir is opened and trusted as the command declares (door.ts); only then
  // is a run past its --confirm-within deadline reverted (by a command that changes the host)
  // or reported (by one that reads).
  program.hook('preAction', async (_program, action) => {
    const { openDoor } = await import('./door.js');
    await openDoor(context(action), commandName(action), action.args);
  });
  options.onProgram?.(program);

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    return reportError(error, argv);
  }
}

/** A command's full name: "run", "sandbox list". */
export function commandName(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at?.parent != null; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/**
 * Maps every failure to a message and an exit code; never a stack trace for a known error, and
 * for an internal one only with --verbose.
 */
function reportError(error: unknown, argv: readonly string[]): number {
  // With --json, a failure is reported as JSON too (on stdout, besides the text on stderr), so
  // that a program driving the CLI (the Ansible module) can show the CLI's own message.
  if (argv.includes('--json') && !(error instanceof CommanderError && error.exitCode === 0))
    process.stdout.write(`${JSON.stringify(errorJson(error))}\n`);
  if (error instanceof CommanderError) {
    // --help and --version end with exit code 0; every usage error is invalid input.
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.invalidInput;
  }
  if (error instanceof RunbookError) {
    process.stderr.write(`runbook: ${error.message}\n`);
    if (error.hint !== undefined) process.stderr.write(`hint: ${error.hint}\n`);
    return error.exitCode;
  }
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  const detail = error instanceof Error ? (verbose ? (error.stack ?? error.message) : error.message) : String(error);
  process.stderr.write(`runbook: internal error: ${detail}\n`);
  if (!verbose) process.stderr.write('hint: run again with --verbose for the stack trace\n');
  return internalErrorExitCode;
}
