import { isPlainCommandLine, toShellLine } from '../exec/shell-words.js';
import { envVar } from '../env.js';
import { oneShotSandboxPrefix } from './identity.js';

/**
 * Where the person reading our output types the commands we suggest (issue 18). A process
 * started by `runbook --in lab …` acts inside the sandbox, but its user sits outside it: a bare
 * `runbook resume ID` typed there finds no run, and a bare `ip route add …` changes their real
 * machine. So every command we print for the user goes through forUser().
 */
export type UserPlace =
  /** A plain host: what we print is typed where it runs. */
  | { kind: 'host' }
  /** Outside a persistent sandbox, reaching in with `runbook --in NAME`. */
  | { kind: 'in'; sandbox: string; stateDir: string | undefined }
  /** In `runbook sandbox shell NAME`: `runbook` and the kernel commands work there as written. */
  | { kind: 'shell'; sandbox: string }
  /** A `run --sandbox` host, gone when the command ends: there is nowhere to type a kernel fix. */
  | { kind: 'one-shot' };

/** Where the user of this process is, from what the sandbox machinery put in its environment. */
export function currentUserPlace(env: NodeJS.ProcessEnv = process.env): UserPlace {
  const sandbox = env[envVar.sandbox] || undefined;
  if (sandbox === undefined) return { kind: 'host' };
  if (sandbox.startsWith(oneShotSandboxPrefix)) return { kind: 'one-shot' };
  if (env[envVar.enteredWith] === 'shell') return { kind: 'shell', sandbox };
  // Entered with --in, or an unknown way in: the `--in` form is the safe one (typed inside,
  // it fails to find the sandbox; it never acts on the outer host).
  return { kind: 'in', sandbox, stateDir: env[envVar.outerStateDir] || undefined };
}

const runbookCommand = /^(sudo\s+)?runbook(?=\s|$)/;

/**
 * Turns a command written for a plain host (`runbook resume ID`, `sudo runbook check X`, or a
 * kernel command such as `ip route add 172.16.0.0/24 dev veth1`) into what the user must type
 * where they are: `runbook --in lab resume ID`, or `runbook sandbox shell lab -c 'ip route …'`.
 * Text that is more than one command (a runbook's `fix:` may be prose around commands) is
 * placed where its commands work as written: "in `runbook sandbox shell lab`: …".
 * The one place that knows these forms; every hint, next step and fix goes through it.
 */
export function forUser(command: string, place: UserPlace = currentUserPlace()): string {
  // `<run-id>` in a hint stands for one word the user fills in.
  const plain = isPlainCommandLine(command.replace(/<[a-z-]+>/g, 'x'));
  const isRunbook = plain && runbookCommand.test(command);
  const isKernel = plain && !isRunbook;
  switch (place.kind) {
    case 'host':
    case 'shell':
      return command;
    case 'one-shot':
      return isRunbook ? command : `in the sandbox host, gone with this command: ${command}`;
    case 'in': {
      const outer = place.stateDir === undefined ? 'runbook' : `runbook --state-dir ${toShellLine([place.stateDir])}`;
      if (isRunbook)
        return command.replace(
          runbookCommand,
          (_, sudo: string | undefined) => `${sudo ?? ''}${outer} --in ${place.sandbox}`,
        );
      if (isKernel) return `${outer} sandbox shell ${place.sandbox} -c ${toShellLine([command])}`;
      return `in \`${outer} sandbox shell ${place.sandbox}\`: ${command}`;
    }
  }
}
