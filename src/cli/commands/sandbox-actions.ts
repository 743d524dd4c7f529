/** The `runbook sandbox …` commands and `--in`, loaded only when used (see sandbox.ts). */
import { ExitCode } from '../../errors.js';
import { replaceFile } from '../../journal/safe-fs.js';
import { toShellLine } from '../../text/shell-words.js';
import { selfArgv } from '../../exec/self.js';
import { requireSandboxCaps } from '../../host/privileges.js';
import {
  assertEnteredSandbox,
  commandLineInside,
  entryMarkers,
  extractInOption,
  runInSandbox,
  runInside,
  sandboxEnv,
  userOutside,
} from '../../sandbox/enter.js';
import { envVar } from '../../env.js';
import { runbookCommand } from '../../suggestion.js';
import {
  createSandbox,
  destroySandbox,
  listSandboxes,
  locateSandbox,
  requireAlive,
  type SandboxPaths,
} from '../../sandbox/persistent.js';
import { tutorialHostAddresses } from '../../sandbox/tutorial-host.js';
import type { CliContext } from '../context.js';
import { openStateDir } from '../door.js';

/**
 * `--in <name>`, handled before commander dispatches anything: returns the exit code of the
 * command re-executed inside the sandbox, or the command line to run in this process (without
 * --in when it already runs inside that sandbox). In a process that --in or a sandbox shell
 * started, first checks that it really runs inside the sandbox, in its user's directory.
 */
export async function runInSandboxIfAsked(
  argv: readonly string[],
): Promise<{ exitCode: number } | { argv: readonly string[] }> {
  const inside = assertEnteredSandbox();
  const request = extractInOption(argv);
  if (inside !== undefined) return { argv: commandLineInside(request, argv, inside) };
  if (request === undefined) return { argv };
  // Entering needs root: said first, before anything about the state dir (issue 26).
  requireSandboxCaps(`runbook --in ${request.name}`);
  // The door, for this entry point: the outer state dir, where the sandbox is, trusted first.
  return { exitCode: await runInSandbox(request, await openStateDir(request.stateDirOption, 'read')) };
}

/** `runbook sandbox create|shell|list|destroy`. */
export async function createCommand(ctx: CliContext, name: string): Promise<number> {
  const made = await createSandbox(ctx.store, name);
  const { hostIp, gateway, internet } = tutorialHostAddresses;
  ctx.out(
    `sandbox ${name} ready: uplink enp0s8 ${hostIp}/24, gateway ${gateway}, stand-in internet ${internet} (${made.netns})`,
  );
  ctx.out(`  state dir: ${made.stateDir}`);
  ctx.out(`  run in it:  ${ctx.render(runbookCommand('--in', name, 'run', 'single-container'))}`);
  ctx.out(`  a shell:    ${ctx.render(runbookCommand('sandbox', 'shell', name))}`);
  ctx.out(`  remove it:  ${ctx.render(runbookCommand('sandbox', 'destroy', name))}`);
  return ExitCode.ok;
}

export async function shellCommand(
  ctx: CliContext,
  name: string,
  options: { command?: string; stateDirOption?: string | undefined },
): Promise<number> {
  const paths = locateSandbox(ctx.store, name);
  requireSandboxCaps();
  const { netns } = requireAlive(paths);
  replaceFile(paths.bashrc, bashrc(paths));
  // The same markers as --in: a `runbook` started in the shell checks it is still inside.
  const env = { ...sandboxEnv(paths), ...entryMarkers(netns) };
  // With -c the user stays outside, so what runbook suggests in there must reach in from
  // outside; in an interactive shell the user is inside, where commands work as written.
  if (options.command !== undefined)
    return runInside(paths, ['bash', '-c', options.command], {
      ...env,
      ...userOutside(options.stateDirOption === undefined ? undefined : ctx.store.dir),
      BASH_ENV: paths.bashrc,
    });
  ctx.err(`entering sandbox ${name} (${netns}); \`exit\` to leave`);
  return runInside(paths, ['bash', '--rcfile', paths.bashrc, '-i'], { ...env, [envVar.enteredWith]: 'shell' });
}

/** The shell's rc file: the user's usual rc, a prompt naming the sandbox, and a `runbook` function. */
function bashrc(paths: SandboxPaths): string {
  return [
    `# written by \`runbook sandbox shell\`: a shell inside sandbox "${paths.name}"`,
    // The directory `sandbox shell` was typed in, as --in enters it (issue 26); forgotten once
    // entered, so that a `runbook` started here stays where the user has cd'd to.
    `if [ -n "\${${envVar.inCwd}-}" ]; then`,
    `  if ! cd -- "$${envVar.inCwd}" 2>/dev/null || [ "$(stat -c %d:%i .)" != "$${envVar.inCwdId}" ]; then`,
    `    echo "runbook: your working directory $${envVar.inCwd} is not in sandbox ${paths.name} as you see it (a file system mounted after the sandbox was created is not in it)" >&2`,
    '    [[ $- == *i* ]] || { echo "runbook: nothing was run; run it from a directory the sandbox has too, or give paths in full" >&2; exit 2; }',
    "    echo 'runbook: starting in /' >&2; cd /",
    '  fi',
    `  unset ${envVar.inCwd} ${envVar.inCwdId}`,
    'fi',
    'if [[ $- == *i* ]]; then',
    '  [ -f /etc/bash.bashrc ] && . /etc/bash.bashrc',
    '  [ -f ~/.bashrc ] && . ~/.bashrc',
    `  PS1=${toShellLine([`(sandbox ${paths.name}) \\u@\\h:\\w\\$ `])}`,
    'fi',
    `runbook() { ${toShellLine(selfArgv())} "$@"; }`,
    '',
  ].join('\n');
}

export function sandboxListCommand(ctx: CliContext, options: { json?: boolean }): number {
  const sandboxes = listSandboxes(ctx.store);
  if (options.json) {
    ctx.out(
      JSON.stringify(
        sandboxes.map((s) => ({
          ...s,
          runs: s.runs.map(({ id, runbook, status, started, finished }) => ({
            id,
            runbook,
            status,
            started,
            finished,
          })),
        })),
      ),
    );
    return ExitCode.ok;
  }
  if (sandboxes.length === 0) {
    ctx.out(`no sandboxes in ${ctx.store.dir} (create one with: ${ctx.render(runbookCommand('sandbox', 'create'))})`);
    return ExitCode.ok;
  }
  const idWidth = Math.max(24, ...sandboxes.flatMap((s) => s.runs.map((r) => r.id.length)));
  for (const s of sandboxes) {
    ctx.out(
      `${s.name}  ${s.alive ? `alive, ${s.netns}` : `GONE: its namespaces no longer exist (${ctx.render(runbookCommand('sandbox', 'destroy', s.name))} to clean up)`}`,
    );
    if (s.runs.length === 0) ctx.out('  no runs yet');
    for (const run of s.runs) ctx.out(`  ${run.id.padEnd(idWidth)} ${run.runbook.padEnd(20)} ${run.status}`);
  }
  return ExitCode.ok;
}

export async function destroyCommand(ctx: CliContext, name: string): Promise<number> {
  const removed = await destroySandbox(ctx.store, name);
  ctx.out(`sandbox ${name} destroyed: its namespaces, everything in them and ${removed.runs} run(s) are gone`);
  return ExitCode.ok;
}
