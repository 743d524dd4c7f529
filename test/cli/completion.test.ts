import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliPath } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

// The completion scripts, driven the way the shells drive them: `runbook` on PATH is the built
// CLI, the completion function is called with the words of a line, and what it offers is read.
const dir = tempDir('runbook-completion-');
afterAll(() => removeDir(dir));
const bin = path.join(dir, 'bin');
mkdirSync(bin);
writeFileSync(path.join(bin, 'runbook'), `#!/bin/sh\nexec '${process.execPath}' '${cliPath}' "$@"\n`);
chmodSync(path.join(bin, 'runbook'), 0o755);

// A state dir with two recorded runs, for run-id completion.
const stateDir = path.join(dir, 'state');
mkdirSync(path.join(stateDir, 'runs'), { recursive: true });
for (const id of ['20261129T100000.000Z-aaaa', '20261129T110000.000Z-bbbb']) {
  const index = { id, runbook: 'single-container', status: 'succeeded', activity: 'run', started: 'x', pid: 1 };
  writeFileSync(
    path.join(stateDir, 'runs', `${id}.json`),
    JSON.stringify({ ...index, host: {}, lastSeq: 1, lastHash: '' }),
  );
}

const env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: dir };

// Each script is printed once, as a user would save it; the lines below source the saved file.
const saved = (shell: string) => {
  const file = path.join(dir, `completion.${shell}`);
  writeFileSync(file, execFileSync('runbook', ['completion', shell], { env, encoding: 'utf8' }));
  return file;
};
const bashScript = saved('bash');
const zshScript = saved('zsh');

/** What bash's completion offers for a line whose last word is being typed. */
function bash(...line: string[]): string[] {
  const script = `source ${bashScript}
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); _runbook; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = execFileSync('bash', ['-c', script, 'bash', ...line], { env, encoding: 'utf8' });
  return out.split('\n').filter((w) => w !== '');
}

describe('runbook completion bash', () => {
  it('completes commands and subcommands', () => {
    expect(bash('runbook', '')).toEqual(
      expect.arrayContaining(['run', 'resume', 'rollback', 'check', 'sandbox', 'list']),
    );
    expect(bash('runbook', 'ro')).toEqual(['rollback']);
    expect(bash('runbook', 'sandbox', '')).toEqual(['create', 'shell', 'list', 'destroy']);
    expect(bash('runbook', '')).not.toContain('__complete');
  });

  it("completes a command's options, and the global ones, from the parser itself", () => {
    const options = bash('runbook', 'run', 'single-container', '--');
    expect(options).toEqual(
      expect.arrayContaining(['--set', '--sandbox', '--until', '--rollback-on-failure', '--state-dir']),
    );
    expect(bash('runbook', 'journal', 'x', '--v')).toEqual(expect.arrayContaining(['--verify', '--verbose']));
    expect(bash('runbook', '--log-level', '')).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'silent']);
    expect(bash('runbook', 'graph', 'single-container', '--format', '')).toEqual(['mermaid', 'json']);
  });

  it('completes runbook names, step ids for --until, and parameter names for --set (with the =)', () => {
    expect(bash('runbook', 'run', '')).toEqual(
      expect.arrayContaining(['container-internet', 'multi-container', 'single-container']),
    );
    expect(bash('runbook', 'run', 'single-container', '--until', 'host')).toEqual(['host-end-up', 'host-route']);
    // The steps of the runbook as the line's --set values make it (issue 26): count=3, a third container.
    expect(bash('runbook', 'run', 'multi-container', '--set', 'count=3', '--until', 'container-address-')).toEqual([
      'container-address-1',
      'container-address-2',
      'container-address-3',
    ]);
    expect(bash('runbook', 'run', 'multi-container', '--until', 'container-address-')).toHaveLength(2);
    expect(bash('runbook', 'run', '--sandbox', 'multi-container', '--set', 'b')).toEqual([
      'bridge=',
      'bridge_cidr=',
      'bridge_mac=',
    ]);
    expect(bash('runbook', 'check', 'single-container', '--set', 'container_')).toEqual([
      'container_veth=',
      'container_cidr=',
    ]);
  });

  it('completes run ids from the state dir given on the line, newest first', () => {
    expect(bash('runbook', '--state-dir', stateDir, 'rollback', '')).toEqual([
      '20261129T110000.000Z-bbbb',
      '20261129T100000.000Z-aaaa',
    ]);
    expect(bash('runbook', 'journal', '--state-dir', stateDir, '20261129T10')).toEqual(['20261129T100000.000Z-aaaa']);
  });

  it("completes topology's formats and the run ids its --run highlights", () => {
    expect(bash('runbook', 'topology', '--format', '')).toEqual(['text', 'mermaid', 'dot', 'svg']);
    // Each command's own choices for a flag they share; a global option's anywhere.
    expect(bash('runbook', 'graph', 'single-container', '--format', '')).toEqual(['mermaid', 'json']);
    expect(bash('runbook', 'topology', '--log-level', 'd')).toEqual(['debug']);
    expect(bash('runbook', '--state-dir', stateDir, 'topology', '--run', '')).toEqual([
      '20261129T110000.000Z-bbbb',
      '20261129T100000.000Z-aaaa',
    ]);
  });

  it('offers nothing, rather than an error, for an unknown runbook or an unreadable state dir', () => {
    expect(bash('runbook', 'run', 'nosuch', '--until', '')).toEqual([]);
    expect(bash('runbook', '--state-dir', '/proc/1/nonexistent', 'resume', '')).toEqual([]);
  });

  it('an unknown shell is invalid input, exit 2', () => {
    let status = 0;
    try {
      execFileSync('runbook', ['completion', 'fish'], { env, stdio: 'pipe' });
    } catch (error) {
      status = (error as { status: number }).status;
    }
    expect(status).toBe(2);
  });
});

describe('runbook completion zsh', () => {
  // zsh's completion builtins are stubbed to print what the script hands them.
  function zsh(...line: string[]): string {
    const script = `autoload -U compinit && compinit -u -d ${dir}/zcompdump
source ${zshScript}
compadd() { while [[ $1 == -* ]]; do [[ $1 == -- ]] && { shift; break }; [[ $1 == -S ]] && shift; shift; done; print -r -- "$*" }
_describe() { print -r -- "\${(P)\${@[-1]}}" }
_files() { print -r -- "files $*" }
words=("$@"); CURRENT=$#; _runbook`;
    return execFileSync('zsh', ['-f', '-c', script, 'zsh', ...line], { env, encoding: 'utf8' });
  }

  it('completes commands with their descriptions, runbooks, steps, parameters and run ids', () => {
    expect(zsh('runbook', '')).toContain('rollback:undo, in reverse order');
    expect(zsh('runbook', 'run', '')).toContain('container-internet forward-filter multi-container single-container');
    expect(zsh('runbook', 'run', 'single-container', '--until', '')).toContain('namespace veth-pair');
    expect(zsh('runbook', 'run', 'multi-container', '--set', 'count=3', '--until', '')).toContain(
      'container-address-3',
    );
    expect(zsh('runbook', 'run', 'multi-container', '--set', '')).toContain('count bridge');
    expect(zsh('runbook', '--state-dir', stateDir, 'resume', '')).toContain(
      '20261129T110000.000Z-bbbb 20261129T100000.000Z-aaaa',
    );
    expect(zsh('runbook', '--state-dir', stateDir, 'topology', '--run', '')).toContain('20261129T110000.000Z-bbbb');
    expect(zsh('runbook', 'graph', 'single-container', '--format', '')).toContain('mermaid json');
    expect(zsh('runbook', 'topology', '--format', '')).toContain('text mermaid dot svg');
    expect(zsh('runbook', '--log-level', '')).toContain('trace debug');
  });
});
