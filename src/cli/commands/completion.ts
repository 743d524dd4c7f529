import { Help, type Command } from 'commander';
import { listRunbookNames } from '../../runbook/load.js';
import { prepareRunbook } from '../../runbook/prepare.js';
import { listSandboxes, locateSandbox } from '../../sandbox/persistent.js';
import { openRunStore } from '../../store/open-run-store.js';
import type { RunStore } from '../../store/run-store.js';
import { engineVersion } from '../../version.js';
import type { CliContext } from '../context.js';

export const shells = ['bash', 'zsh'] as const;
export type Shell = (typeof shells)[number];

/** What the script asks `runbook __complete` for: the values that live in files, not in the parser. */
export const wordKinds = ['runbooks', 'runs', 'sandboxes', 'steps', 'params'] as const;
export type WordKind = (typeof wordKinds)[number];

/** What a command's positional argument is, for the commands that take one worth completing. */
const argumentKinds: Record<string, WordKind | 'shells'> = {
  run: 'runbooks',
  show: 'runbooks',
  check: 'runbooks',
  graph: 'runbooks',
  resume: 'runs',
  rollback: 'runs',
  confirm: 'runs',
  journal: 'runs',
  'sandbox shell': 'sandboxes',
  'sandbox destroy': 'sandboxes',
  completion: 'shells',
};

/** One command as the script sees it: its path ("runbook sandbox create"), options and subcommands. */
interface CommandShape {
  path: string;
  description: string;
  options: string[];
  subcommands: string[];
}

/**
 * `runbook completion bash|zsh`: a script that completes commands, options, runbook names,
 * step ids for --until, run ids, sandbox names and parameter names for --set. Commands and
 * options are read from the parser itself, so the script never lists a flag that is gone;
 * the rest the script asks `runbook __complete` for as you type.
 */
export function completionCommand(ctx: CliContext, shell: Shell, program: Command): number {
  ctx.out(shell === 'bash' ? bashScript(program) : zshScript(program));
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
  opts: { sandbox?: string },
): number {
  try {
    for (const word of wordsOf(kind, runbook, () => storeOf(ctx, opts.sandbox))) ctx.out(word);
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

function wordsOf(kind: string, runbook: string | undefined, store: () => RunStore): string[] {
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
      return runbook === undefined ? [] : prepareRunbook(runbook, []).plan.steps.map((s) => s.id);
    case 'params':
      return runbook === undefined ? [] : Object.keys(prepareRunbook(runbook, []).runbook.spec.parameters);
    default:
      return [];
  }
}

function shapes(program: Command): CommandShape[] {
  const help = new Help();
  const walk = (command: Command, path: string): CommandShape[] => {
    const subcommands = help.visibleCommands(command).filter((c) => c.name() !== 'help');
    const options = help.visibleOptions(command).flatMap((o) => [o.short, o.long].filter((f) => f !== undefined));
    const shape = { path, description: command.description(), options, subcommands: subcommands.map((c) => c.name()) };
    return [shape, ...subcommands.flatMap((c) => walk(c, `${path} ${c.name()}`))];
  };
  // Paths start with "runbook": bash refuses an empty key in an associative array.
  return walk(program, 'runbook');
}

/**
 * Options that take a value (the next word is theirs), and the values of those that have
 * choices, by command path and flag ("runbook graph --format"): two commands may give the same
 * flag different choices (graph's and topology's --format).
 */
function valueOptions(program: Command): { valued: string[]; choices: Record<string, string[]> } {
  const valued = new Set<string>();
  const choices: Record<string, string[]> = {};
  const help = new Help();
  const walk = (command: Command, path: string) => {
    for (const option of help.visibleOptions(command)) {
      if (!option.required && !option.optional) continue;
      for (const flag of [option.short, option.long]) {
        if (flag === undefined) continue;
        valued.add(flag);
        if (option.argChoices) choices[`${path} ${flag}`] = option.argChoices;
      }
    }
    for (const sub of help.visibleCommands(command)) walk(sub, `${path} ${sub.name()}`);
  };
  walk(program, 'runbook');
  return { valued: [...valued].sort(), choices };
}

const argumentEntries = () =>
  Object.entries(argumentKinds).map(([path, kind]): [string, string] => [`runbook ${path}`, kind]);

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

function bashScript(program: Command): string {
  const all = shapes(program);
  const { valued, choices } = valueOptions(program);
  const assoc = (name: string, entries: Array<[string, string]>) =>
    `declare -gA ${name}=(${entries.map(([k, v]) => `[${quote(k)}]=${quote(v)}`).join(' ')})`;
  return `# runbook completion for bash (runbook ${engineVersion}), printed by \`runbook completion bash\`.
# Use it now:     source <(runbook completion bash)
# Keep it:        runbook completion bash > /etc/bash_completion.d/runbook   (or in ~/.bashrc: source <(runbook completion bash))
${assoc(
  '_runbook_subcommands',
  all.map((c) => [c.path, c.subcommands.join(' ')]),
)}
${assoc(
  '_runbook_options',
  all.map((c) => [c.path, c.options.join(' ')]),
)}
${assoc(
  '_runbook_choices',
  Object.entries(choices).map(([flag, values]) => [flag, values.join(' ')]),
)}
${assoc('_runbook_argument', argumentEntries())}
_runbook_valued=${quote(` ${valued.join(' ')} `)}

_runbook() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local cmd=runbook runbook="" sandbox="" i word
  local -a state=()
  # Read the line so far: the command path, the runbook named, --state-dir and --in.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    case $word in
      --state-dir) state=(--state-dir "\${COMP_WORDS[i+1]}"); ((i++)); continue ;;
      --state-dir=*) state=("$word"); continue ;;
      --in) sandbox=\${COMP_WORDS[i+1]}; ((i++)); continue ;;
      --in=*) sandbox=\${word#--in=}; continue ;;
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
  local words=""
  case $prev in
    --state-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    --in) words=$("\${ask[@]}" sandboxes 2>/dev/null) ;;
    --until) words=$("\${ask[@]}" steps "$runbook" 2>/dev/null) ;;
    --run) words=$("\${ask[@]}" runs 2>/dev/null) ;;
    --set)
      COMPREPLY=($(compgen -S = -W "$("\${ask[@]}" params "$runbook" 2>/dev/null)" -- "$cur"))
      compopt -o nospace 2>/dev/null
      return ;;
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

function zshScript(program: Command): string {
  const all = shapes(program);
  const { valued, choices } = valueOptions(program);
  const assoc = (name: string, entries: Array<[string, string]>) =>
    `typeset -gA ${name}\n${name}=(${entries.map(([k, v]) => `${quote(k)} ${quote(v)}`).join(' ')})`;
  const described = (path: string) =>
    all
      .filter((c) => c.path.slice(0, c.path.lastIndexOf(' ')) === path)
      .map((c) => `${c.path.split(' ').at(-1)}:${c.description.replaceAll(':', '\\:')}`);
  return `#compdef runbook
# runbook completion for zsh (runbook ${engineVersion}), printed by \`runbook completion zsh\`.
# Use it now:     source <(runbook completion zsh)      (after compinit)
# Keep it:        runbook completion zsh > "\${fpath[1]}/_runbook"
${assoc(
  '_runbook_subcommands',
  all.map((c) => [c.path, c.subcommands.join(' ')]),
)}
${assoc(
  '_runbook_options',
  all.map((c) => [c.path, c.options.join(' ')]),
)}
${assoc(
  '_runbook_choices',
  Object.entries(choices).map(([flag, values]) => [flag, values.join(' ')]),
)}
${assoc('_runbook_argument', argumentEntries())}
${assoc(
  '_runbook_described',
  all.filter((c) => c.subcommands.length > 0).map((c) => [c.path, described(c.path).join('\n')]),
)}
_runbook_valued=${quote(` ${valued.join(' ')} `)}

_runbook() {
  local cur=\${words[CURRENT]} prev=\${words[CURRENT-1]}
  local cmd=runbook runbook="" sandbox="" word
  local -a state ask found
  local -i i
  # Read the line so far: the command path, the runbook named, --state-dir and --in.
  for ((i = 2; i < CURRENT; i++)); do
    word=\${words[i]}
    case $word in
      --state-dir) state=(--state-dir "\${words[i+1]}"); ((i++)); continue ;;
      --state-dir=*) state=("$word"); continue ;;
      --in) sandbox=\${words[i+1]}; ((i++)); continue ;;
      --in=*) sandbox=\${word#--in=}; continue ;;
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
  case $prev in
    --state-dir) _files -/; return ;;
    --in) found=(\${(f)"$("\${ask[@]}" sandboxes 2>/dev/null)"}) ;;
    --until) found=(\${(f)"$("\${ask[@]}" steps "$runbook" 2>/dev/null)"}) ;;
    --run) found=(\${(f)"$("\${ask[@]}" runs 2>/dev/null)"}) ;;
    --set) found=(\${(f)"$("\${ask[@]}" params "$runbook" 2>/dev/null)"}); compadd -S '=' -- $found; return ;;
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
