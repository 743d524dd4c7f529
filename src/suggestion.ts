/**
 * What runbook tells the user to do next (a hint, a next step, a fix), kept as data until the
 * CLI prints it (issue 27). How a suggested command must be written depends on where the user
 * types it: outside a sandbox the run was made in (`runbook --in lab resume ID`), in its shell,
 * without root (`sudo …`), with the --state-dir they gave. Nothing below src/cli knows that; the
 * CLI renders every suggestion for the user once, at the edge (src/cli/render-advice.ts).
 * Kept free of imports: errors.ts carries advice in its hints.
 */

/** `runbook ARGV…`: a command of runbook itself. */
export interface RunbookSuggestion {
  readonly kind: 'runbook';
  /** The words after `runbook`: `['resume', runId]`. An upper-case word (NAME, RUN-ID) stands for one the user fills in. */
  readonly argv: readonly string[];
  /** It needs root (CAP_NET_ADMIN): shown under sudo to a user who is not root. */
  readonly asRoot?: boolean;
  /** It is typed in a new session (confirm, after --confirm-within), which may not have this one's $RUNBOOK_STATE_DIR. */
  readonly newSession?: boolean;
}

/**
 * A runbook author's `fix:` (or any text meant for the host a run acts on): one command line,
 * such as `ip route add 172.16.0.0/24 dev veth1`, or prose around commands.
 */
export interface HostSuggestion {
  readonly kind: 'host';
  readonly text: string;
}

/**
 * The very command the user typed, as they typed it, under sudo (issue 26): for one refused
 * because it needs root, "try again with sudo" and then the command to paste, not another one.
 */
export interface SameCommandSuggestion {
  readonly kind: 'same-command';
  readonly asRoot: true;
}

export type Suggestion = RunbookSuggestion | HostSuggestion | SameCommandSuggestion;

/** Words and suggestions, in order: "list them with: `runbook list`", as a hint or a line of output. */
export type Advice = readonly (string | Suggestion)[];

/** `runbook ARGV…`, to be rendered where the user is. */
export function runbookCommand(...argv: string[]): RunbookSuggestion {
  return { kind: 'runbook', argv };
}

/** The command the user typed, under sudo. */
export function sameCommandAsRoot(): SameCommandSuggestion {
  return { kind: 'same-command', asRoot: true };
}

/** A command (or prose around commands) for the host the run acts on. */
export function hostCommand(text: string): HostSuggestion {
  return { kind: 'host', text };
}

/**
 * Advice written as a template: ``advice`list them with: ${runbookCommand('runs')}` `` keeps the
 * command as a suggestion; strings and numbers are kept as text.
 */
export function advice(strings: TemplateStringsArray, ...values: ReadonlyArray<string | number | Suggestion>): Advice {
  const parts: Array<string | Suggestion> = [];
  strings.forEach((text, i) => {
    if (text !== '') parts.push(text);
    if (i >= values.length) return;
    const value = values[i] as string | number | Suggestion;
    parts.push(typeof value === 'object' ? value : String(value));
  });
  return parts;
}
