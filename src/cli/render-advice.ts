import path from 'node:path';
import { envVar } from '../env.js';
import { isPlainCommandLine, toShellLine } from '../text/shell-words.js';
import { oneShotSandboxPrefix } from '../host/identity.js';
import type { Advice, RunbookSuggestion, Suggestion } from '../suggestion.js';

/**
 * Renders what runbook suggests (src/suggestion.ts) for the person reading it: the one place
 * that knows how a command must be written where they type it (issues 18, 27). Everything it
 * depends on is in UserContext, read once from the process by `userContextOf` when the CLI
 * starts; the engine, the runbook loader and the journal only build suggestions.
 *
 * To make suggestions depend on something more (say, the command line the user typed, to offer
 * "the same command under sudo"): add it to UserContext and to `userContextOf`, add a kind to
 * Suggestion if a new kind of suggestion is needed, and render it in `renderSuggestion`; its
 * tests are in test/cli/render-advice.test.ts.
 */

/**
 * Where the person reading our output types the commands we suggest. A process started by
 * `runbook --in lab …` acts inside the sandbox, but its user sits outside it: a bare `runbook
 * resume ID` typed there finds no run, and a bare `ip route add …` changes their real machine.
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

/** Everything a suggestion is rendered for. */
export interface UserContext {
  place: UserPlace;
  /**
   * The state dir of this command, and how it was chosen. A runbook command suggested to a user
   * who gave `--state-dir` repeats it (without it, the command would look in another dir); one
   * for a new session also names a dir that came from $RUNBOOK_STATE_DIR, which that session
   * may not have.
   */
  stateDir: { given: 'option' | 'env'; path: string } | { given: 'default' };
  /** Whether the user is root: a command that needs root is shown under sudo to one who is not. */
  isRoot: boolean;
  /**
   * The command line the user typed after the command's name (`rollback --all`), and that name as
   * they typed it (`runbook`, or `npx runbook` under npm exec): "the same command under sudo"
   * (issue 26). Empty when unknown.
   */
  commandLine: readonly string[];
  invokedAs: string;
}

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

/**
 * The user's context, read from this process: its environment, its uid, and how the state dir
 * was chosen (`stateDirOption`: the --state-dir given, if any).
 */
export function userContextOf(
  stateDirOption: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  uid: number = process.getuid?.() ?? -1,
  commandLine: readonly string[] = [],
): UserContext {
  const fromEnv = env[envVar.stateDir];
  const stateDir: UserContext['stateDir'] =
    stateDirOption !== undefined
      ? { given: 'option', path: path.resolve(stateDirOption) }
      : fromEnv !== undefined && fromEnv !== ''
        ? { given: 'env', path: path.resolve(fromEnv) }
        : { given: 'default' };
  // npm exec (npx) says so in npm_command; a `runbook` on PATH, a bin script or a bundle does not.
  // Inherited by whatever npx ran, so both are read: npx ran runbook itself.
  const viaNpx = env[envVar.npmCommand] === 'exec' && /^'?runbook(?=[\s']|$)/.test(env[envVar.npmScript] ?? '');
  const invokedAs = viaNpx ? 'npx runbook' : 'runbook';
  return { place: currentUserPlace(env), stateDir, isRoot: uid === 0, commandLine, invokedAs };
}

/** What the CLI's formatters are given to write advice for the user (CliContext.render). */
export type Render = (advice: Advice | Suggestion | string) => string;

/** Advice (or a bare suggestion, or plain text) as the user must read it. */
export function renderAdvice(advice: Advice | Suggestion | string, user: UserContext): string {
  if (typeof advice === 'string') return advice;
  if (!Array.isArray(advice)) return renderSuggestion(advice as Suggestion, user);
  return (advice as Advice).map((part) => (typeof part === 'string' ? part : renderSuggestion(part, user))).join('');
}

/** One suggestion, written for where the user types it. */
export function renderSuggestion(suggestion: Suggestion, user: UserContext): string {
  switch (suggestion.kind) {
    case 'runbook':
      return renderRunbookCommand(suggestion, user);
    case 'host':
      return renderHostText(suggestion.text, user);
    case 'same-command':
      return renderSameCommand(user);
  }
}

/**
 * The command the user typed, as typed, under sudo. sudo starts with a clean environment, so a
 * state dir that came from $RUNBOOK_STATE_DIR is named on the line (else root would look in
 * another one).
 */
function renderSameCommand(user: UserContext): string {
  const sudo = user.isRoot ? [] : ['sudo'];
  const typed = user.commandLine;
  const givesStateDir = typed.some((word) => word === '--state-dir' || word.startsWith('--state-dir='));
  const stateDir = user.stateDir.given === 'env' && !givesStateDir ? ['--state-dir', user.stateDir.path] : [];
  return [...sudo, user.invokedAs, ...[...stateDir, ...typed].map(shellWord)].join(' ');
}

const runbookLine = /^(sudo\s+)?runbook(?=\s|$)/;

/** `runbook` and the words that reach where the user's runs are: --state-dir, --in. */
function renderRunbookCommand(suggestion: RunbookSuggestion, user: UserContext): string {
  // A new session (a new ssh connection, to confirm) starts outside the sandbox shell it came from.
  const place: UserPlace =
    suggestion.newSession && user.place.kind === 'shell'
      ? { kind: 'in', sandbox: user.place.sandbox, stateDir: undefined }
      : user.place;
  const sudo = suggestion.asRoot && !user.isRoot ? ['sudo'] : [];
  let prefix: string[];
  if (place.kind === 'in') {
    const outer = place.stateDir === undefined ? [] : ['--state-dir', place.stateDir];
    // Sandboxes are managed from outside, without --in (which refuses `sandbox` commands); a
    // command that names its sandbox already needs no other.
    const reachesIn = suggestion.argv[0] !== 'sandbox' && suggestion.argv[0] !== '--in';
    prefix = reachesIn ? [...outer, '--in', place.sandbox] : outer;
  } else {
    const { stateDir } = user;
    const named =
      stateDir.given === 'option' || (stateDir.given === 'env' && suggestion.newSession === true)
        ? stateDir.path
        : undefined;
    prefix = named === undefined ? [] : ['--state-dir', named];
  }
  return [...sudo, 'runbook', ...[...prefix, ...suggestion.argv].map(shellWord)].join(' ');
}

/**
 * A command (or prose around commands) for the host a run acts on. Under --in, a command line
 * reaches in through `runbook sandbox shell NAME -c`, and prose is placed in that shell, where
 * its commands work as written. A `runbook …` line among them is rendered as one.
 */
function renderHostText(text: string, user: UserContext): string {
  const { place } = user;
  // `<run-id>` in a hint stands for one word the user fills in.
  const plain = isPlainCommandLine(text.replace(/<[a-z-]+>/g, 'x'));
  if (plain && runbookLine.test(text.trim())) {
    const words = text.trim().split(/\s+/);
    const asRoot = words[0] === 'sudo';
    return renderRunbookCommand(
      { kind: 'runbook', argv: words.slice(asRoot ? 2 : 1), asRoot },
      { ...user, isRoot: false },
    );
  }
  switch (place.kind) {
    case 'host':
    case 'shell':
      return text;
    case 'one-shot':
      return `in the sandbox host, gone with this command: ${text}`;
    case 'in': {
      const outer = renderRunbookCommand({ kind: 'runbook', argv: ['sandbox', 'shell', place.sandbox] }, user);
      return plain ? `${outer} -c ${toShellLine([text])}` : `in \`${outer}\`: ${text}`;
    }
  }
}

/** A word as typed in a shell; a placeholder (NAME, <run-id>, …) is left as it is. */
function shellWord(word: string): string {
  return /^<[a-z-]+>$/.test(word) || word === '…' ? word : toShellLine([word]);
}
