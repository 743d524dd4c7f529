import { invalidInput } from '../../errors.js';
import { listRunbookNames } from '../../runbook/load.js';
import { prepareRunbook } from '../../runbook/prepare.js';
import { listSandboxes, locateSandbox } from '../../sandbox/persistent.js';
import { openRunStore } from '../../store/open-run-store.js';
import type { RunStore } from '../../store/run-store.js';
import { engineVersion } from '../../version.js';
import { defineCommand, optionFlags, setOption, type CommandSpec } from '../command-spec.js';
import { globalOptions, type CliContext } from '../context.js';
import { option, type OptionSpecs } from '../option-spec.js';

export const shells = ['bash', 'zsh'] as const;
export type Shell = (typeof shells)[number];

export const command = defineCommand({
  name: 'completion',
  description: 'print a bash or zsh script that completes commands, options, runbooks, steps, runs and parameters',
  arguments: [{ name: '<shell>', description: 'bash or zsh', complete: 'shells' }],
  examples: [
    ['source <(runbook completion bash)', 'in this shell (add it to ~/.bashrc to keep it)'],
    ['runbook completion bash > /etc/bash_completion.d/runbook', 'for everyone'],
    ['runbook completion zsh > "${fpath[1]}/_runbook"', 'zsh, after compinit'],
  ],
  stateDir: 'none',
  needsAllCommands: true,
  action: (ctx, [shell], _options, { commands }) => {
    if (!(shells as readonly string[]).includes(shell))
      throw invalidInput(`no completion for shell "${shell}"`, `choose one of: ${shells.join(', ')}`);
    return completionCommand(ctx, shell as Shell, commands);
  },
});

/** What the completion script asks for as you type (hidden: not for people). */
export const wordsCommand = defineCommand({
  name: '__complete',
  hidden: true,
  arguments: [
    { name: '<kind>', description: 'runbooks, runs, sandboxes, steps or params' },
    { name: '[runbook]', description: 'the runbook whose steps or params' },
  ],
  description: 'one word per line for the completion script',
  options: {
    sandbox: option('--sandbox <name>', 'the sandbox whose runs'),
    // The line's --set values: a runbook's steps can depend on them (multi-container's count).
    set: setOption('the parameters given on the line'),
  },
  // Completing run ids and sandbox names reads the state dir; runbooks, steps and parameters do not.
  stateDir: (args) => (args[0] === 'runs' || args[0] === 'sandboxes' ? 'read' : 'none'),
  action: (ctx, [kind, runbook], options) => completeCommand(ctx, kind, runbook, options),
});

/** One command as the script sees it: its path ("runbook sandbox create"), options and subcommands. */
interface CommandShape {
  path: string;
  description: string;
  options: string[];
  subcommands: string[];
}

/**
 * `runbook completion bash|zsh`: a script that completes commands, options, runbook names,
 * step ids for --until, run ids, sandbox names and parameter names for --set. Commands, options
 * and what their values are come from the commands' declarations, so the script never lists a
 * flag that is gone; the values that live in files the script asks `runbook __complete` for as
 * you type.
 */
export function completionCommand(ctx: CliContext, shell: Shell, commands: readonly CommandSpec[]): number {
  ctx.out(shell === 'bash' ? bashScript(commands) : zshScript(commands));
  return 0;
}

/**
 * `runbook __complete KIND [RUNBOOK]`: one word per line for the completion script; nothing (and
 * exit 0) when there is nothing to offer, since an error message would land in the user's prompt.
 */
export function completeCommand(
  ctx: CliContext,
  kind: string,
  runbook: string | undefined,
  opts: { sandbox?: string; set?: string[] },
): number {
  try {
    for (const word of wordsOf(kind, runbook, () => storeOf(ctx, opts.sandbox), opts.set ?? [])) ctx.out(word);
  } catch {
    // unreadable state dir, unknown runbook, …: no suggestions
  }
  return 0;
}

/** The state dir opened by the door, or that of a sandbox in it (opened through the door too). */
function storeOf(ctx: CliContext, sandbox: string | undefined): RunStore {
  if (sandbox === undefined) return ctx.store;
  return openRunStore(locateSandbox(ctx.store, sandbox).stateDir, 'read', { trust: ctx.store.trust });
}

function wordsOf(kind: string, runbook: string | undefined, store: () => RunStore, sets: readonly string[]): string[] {
  switch (kind) {
    case 'runbooks':
      return listRunbookNames();
    case 'runs':
      return store()
        .listRuns()
        .map((r) => r.id)
        .reverse();
    case 'sandboxes':
      return listSandboxes(store()).map((s) => s.name);
    case 'steps':
      return runbook === undefined ? [] : stepsOf(runbook, sets);
    case 'params':
      return runbook === undefined ? [] : Object.keys(prepareRunbook(runbook, []).runbook.spec.parameters);
    default:
      return [];
  }
}

/** The steps with the line's --set values; with the defaults while those do not parse yet. */
function stepsOf(runbook: string, sets: readonly string[]): string[] {
  try {
    return prepareRunbook(runbook, [...sets]).plan.steps.map((s) => s.id);
  } catch {
    return prepareRunbook(runbook, []).plan.steps.map((s) => s.id);
  }
}

/** The flags commander adds to every command, and to runbook itself. */
const helpFlags = ['-h', '--help'];
const versionFlags = ['-V', '--version'];

const flagsOf = (options: OptionSpecs | undefined) =>
  Object.values(options ?? {}).flatMap((declared) => {
    const { short, long } = optionFlags(declared);
    return [short, long].filter((f) => f !== undefined);
  });

/** Every command the user may type, as the script sees it; paths start with "runbook". */
function shapes(commands: readonly CommandSpec[]): CommandShape[] {
  const visible = (list: readonly CommandSpec[]) => list.filter((c) => !c.hidden);
  const walk = (command: CommandSpec, path: string): CommandShape[] => {
    const subcommands = visible(command.subcommands ?? []);
    const shape = {
      path,
      description: command.description,
      options: [...flagsOf(command.options), ...helpFlags],
      subcommands: subcommands.map((c) => c.name),
    };
    return [shape, ...subcommands.flatMap((c) => walk(c, `${path} ${c.name}`))];
  };
  // Paths start with "runbook": bash refuses an empty key in an associative array.
  const root = {
    path: 'runbook',
    description: '',
    options: [...versionFlags, ...flagsOf(globalOptions), ...helpFlags],
    subcommands: visible(commands).map((c) => c.name),
  };
  return [root, ...visible(commands).flatMap((c) => walk(c, `runbook ${c.name}`))];
}

/**
 * What the script knows besides the command tree: the options that take a value (the next word
 * is theirs), the choices of those that have some, by command path and flag ("runbook graph
 * --format": two commands may give one flag different choices, graph's and topology's
 * --format), what each value is (a step, a parameter, a sandbox, a directory), and what each
 * command's argument is.
 */
function valueTables(commands: readonly CommandSpec[]) {
  const valued = new Set<string>();
  const choices = new Map<string, string>();
  const valueKinds = new Map<string, string>();
  const argumentKinds = new Map<string, string>();
  const walkOptions = (options: OptionSpecs | undefined, path: string) => {
    for (const declared of Object.values(options ?? {})) {
      const { short, long, takesValue } = optionFlags(declared);
      if (!takesValue) continue;
      for (const flag of [short, long]) {
        if (flag === undefined) continue;
        valued.add(flag);
        if (declared.choices !== undefined) choices.set(`${path} ${flag}`, declared.choices.join(' '));
        if (declared.complete === undefined) continue;
        // The script looks values up by flag alone: one flag, one kind of value.
        const known = valueKinds.get(flag);
        if (known !== undefined && known !== declared.complete)
          throw new Error(`${flag} completes both ${known} and ${declared.complete}`);
        valueKinds.set(flag, declared.complete);
      }
    }
  };
  const walk = (command: CommandSpec, path: string) => {
    if (command.hidden) return;
    walkOptions(command.options, path);
    const completed = (command.arguments ?? []).find((a) => a.complete !== undefined);
    if (completed?.complete !== undefined) argumentKinds.set(path, completed.complete);
    for (const sub of command.subcommands ?? []) walk(sub, `${path} ${sub.name}`);
  };
  walkOptions(globalOptions, 'runbook');
  for (const c of commands) walk(c, `runbook ${c.name}`);
  return { valued: [...valued].sort(), choices, valueKinds, argumentKinds };
}

/**
 * The tables both scripts start with, by name: the same data, declared in each shell's syntax
 * (see bashScript, zshScript).
 */
function tables(commands: readonly CommandSpec[]): Array<[name: string, entries: Array<[string, string]>]> {
  const all = shapes(commands);
  const { choices, valueKinds, argumentKinds } = valueTables(commands);
  return [
    ['_runbook_subcommands', all.map((c) => [c.path, c.subcommands.join(' ')])],
    ['_runbook_options', all.map((c) => [c.path, c.options.join(' ')])],
    ['_runbook_choices', [...choices]],
    ['_runbook_value_kind', [...valueKinds]],
    ['_runbook_argument', [...argumentKinds]],
  ];
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

function bashScript(commands: readonly CommandSpec[]): string {
  const { valued } = valueTables(commands);
  const assoc = ([name, entries]: [string, Array<[string, string]>]) =>
    `declare -gA ${name}=(${entries.map(([k, v]) => `[${quote(k)}]=${quote(v)}`).join(' ')})`;
  return `# runbook completion for bash (runbook ${engineVersion}), printed by \`runbook completion bash\`.
# Use it now:     source <(runbook completion bash)
# Keep it:        runbook completion bash > /etc/bash_completion.d/runbook   (or in ~/.bashrc: source <(runbook completion bash))
${tables(commands).map(assoc).join('\n')}
_runbook_valued=${quote(` ${valued.join(' ')} `)}

_runbook() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local cmd=runbook runbook="" sandbox="" i word
  local -a state=() sets=()
  # Read the line so far: the command path, the runbook named, --state-dir and --in.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    case $word in
      --state-dir) state=(--state-dir "\${COMP_WORDS[i+1]}"); ((i++)); continue ;;
      --state-dir=*) state=("$word"); continue ;;
      --in) sandbox=\${COMP_WORDS[i+1]}; ((i++)); continue ;;
      --in=*) sandbox=\${word#--in=}; continue ;;
      --set) sets+=(--set "\${COMP_WORDS[i+1]}"); ((i++)); continue ;;
      -*) [[ $_runbook_valued == *" $word "* ]] && ((i++)); continue ;;
    esac
    if [[ -n \${_runbook_subcommands[$cmd]} && " \${_runbook_subcommands[$cmd]} " == *" $word "* ]]; then
      cmd="$cmd $word"
    elif [[ -z $runbook && \${_runbook_argument[$cmd]} == runbooks ]]; then
      runbook=$word
    fi
  done
  local -a ask=("\${COMP_WORDS[0]}" "\${state[@]}" __complete)
  [[ -n $sandbox ]] && ask+=(--sandbox "$sandbox")
  local words="" kind=\${_runbook_value_kind[$prev]}
  # The value of an option (--until: a step of the runbook on the line), else what comes next.
  case $kind in
    dirs) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    params)
      COMPREPLY=($(compgen -S = -W "$("\${ask[@]}" params "$runbook" 2>/dev/null)" -- "$cur"))
      compopt -o nospace 2>/dev/null
      return ;;
    ?*) words=$("\${ask[@]}" "$kind" "$runbook" "\${sets[@]}" 2>/dev/null) ;;
    *)
      # The command's own choices for the flag, else the global option's.
      local choices=\${_runbook_choices["$cmd $prev"]:-\${_runbook_choices["runbook $prev"]}}
      if [[ -n $choices ]]; then
        words=$choices
      elif [[ $_runbook_valued == *" $prev "* ]]; then
        return
      elif [[ $cur == -* ]]; then
        words="\${_runbook_options[$cmd]} \${_runbook_options[runbook]}"
      elif [[ -n \${_runbook_subcommands[$cmd]} ]]; then
        words=\${_runbook_subcommands[$cmd]}
      else
        case \${_runbook_argument[$cmd]} in
          runbooks)
            words=$("\${ask[@]}" runbooks 2>/dev/null)
            COMPREPLY=($(compgen -f -X '!*.y*ml' -- "$cur") $(compgen -d -S / -- "$cur"))
            [[ \${#COMPREPLY[@]} -gt 0 ]] && compopt -o nospace -o filenames 2>/dev/null ;;
          shells) words="${shells.join(' ')}" ;;
          '') return ;;
          *) words=$("\${ask[@]}" "\${_runbook_argument[$cmd]}" 2>/dev/null) ;;
        esac
      fi ;;
  esac
  COMPREPLY+=($(compgen -W "$words" -- "$cur"))
}
complete -F _runbook runbook`;
}

function zshScript(commands: readonly CommandSpec[]): string {
  const all = shapes(commands);
  const { valued } = valueTables(commands);
  const assoc = ([name, entries]: [string, Array<[string, string]>]) =>
    `typeset -gA ${name}\n${name}=(${entries.map(([k, v]) => `${quote(k)} ${quote(v)}`).join(' ')})`;
  const described = (path: string) =>
    all
      .filter((c) => c.path.slice(0, c.path.lastIndexOf(' ')) === path)
      .map((c) => `${c.path.split(' ').at(-1)}:${c.description.replaceAll(':', '\\:')}`);
  return `#compdef runbook
# runbook completion for zsh (runbook ${engineVersion}), printed by \`runbook completion zsh\`.
# Use it now:     source <(runbook completion zsh)      (after compinit)
# Keep it:        runbook completion zsh > "\${fpath[1]}/_runbook"
${tables(commands).map(assoc).join('\n')}
${assoc([
  '_runbook_described',
  all.filter((c) => c.subcommands.length > 0).map((c) => [c.path, described(c.path).join('\n')]),
])}
_runbook_valued=${quote(` ${valued.join(' ')} `)}

_runbook() {
  local cur=\${words[CURRENT]} prev=\${words[CURRENT-1]}
  local cmd=runbook runbook="" sandbox="" word
  local -a state ask found sets
  local -i i
  # Read the line so far: the command path, the runbook named, --state-dir and --in.
  for ((i = 2; i < CURRENT; i++)); do
    word=\${words[i]}
    case $word in
      --state-dir) state=(--state-dir "\${words[i+1]}"); ((i++)); continue ;;
      --state-dir=*) state=("$word"); continue ;;
      --in) sandbox=\${words[i+1]}; ((i++)); continue ;;
      --in=*) sandbox=\${word#--in=}; continue ;;
      --set) sets+=(--set "\${words[i+1]}"); ((i++)); continue ;;
      -*) [[ $_runbook_valued == *" $word "* ]] && ((i++)); continue ;;
    esac
    if [[ -n \${_runbook_subcommands[$cmd]} && " \${_runbook_subcommands[$cmd]} " == *" $word "* ]]; then
      cmd="$cmd $word"
    elif [[ -z $runbook && \${_runbook_argument[$cmd]} == runbooks ]]; then
      runbook=$word
    fi
  done
  ask=("\${words[1]}" "\${state[@]}" __complete)
  [[ -n $sandbox ]] && ask+=(--sandbox "$sandbox")
  local kind=\${_runbook_value_kind[$prev]}
  # The value of an option (--until: a step of the runbook on the line), else what comes next.
  case $kind in
    dirs) _files -/; return ;;
    params) found=(\${(f)"$("\${ask[@]}" params "$runbook" 2>/dev/null)"}); compadd -S '=' -- $found; return ;;
    ?*) found=(\${(f)"$("\${ask[@]}" "$kind" "$runbook" "\${sets[@]}" 2>/dev/null)"}) ;;
    *)
      local choices=\${_runbook_choices[$cmd $prev]:-\${_runbook_choices[runbook $prev]}}
      if [[ -n $choices ]]; then
        found=(\${=choices})
      elif [[ $_runbook_valued == *" $prev "* ]]; then
        return 1
      elif [[ $cur == -* ]]; then
        found=(\${=_runbook_options[$cmd]} \${=_runbook_options[runbook]})
      elif [[ -n \${_runbook_subcommands[$cmd]} ]]; then
        local -a described=(\${(f)_runbook_described[$cmd]})
        _describe -t commands 'runbook command' described
        return
      else
        case \${_runbook_argument[$cmd]} in
          runbooks)
            found=(\${(f)"$("\${ask[@]}" runbooks 2>/dev/null)"})
            _files -g '*.y(a|)ml' ;;
          shells) found=(${shells.join(' ')}) ;;
          '') return 1 ;;
          *) found=(\${(f)"$("\${ask[@]}" "\${_runbook_argument[$cmd]}" 2>/dev/null)"}) ;;
        esac
      fi ;;
  esac
  compadd -- $found
}

if [[ \${funcstack[1]} == _runbook ]]; then
  _runbook "$@"
else
  compdef _runbook runbook
fi`;
}
