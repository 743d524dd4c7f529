import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { applySpec, optionFlags, type CommandSpec } from '../../src/cli/command-spec.js';
import { commandLoaders, loadAllCommands, program } from '../../src/cli/commands/index.js';
import { completionCommand } from '../../src/cli/commands/completion.js';
import { globalOptions, type CliContext } from '../../src/cli/context.js';
import { main } from '../../src/cli/main.js';
import { flag } from '../../src/cli/option-spec.js';

// Each command is declared once (src/cli/commands/<verb>.ts); the README's CLI table, --help
// and the completion scripts must follow the declarations (issue 27).
const commands = await loadAllCommands();
const visible = commands.filter((c) => !c.hidden);
const readme = readFileSync(path.join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

const longFlags = (spec: Pick<CommandSpec, 'options'>) =>
  Object.values(spec.options ?? {}).flatMap((o) => optionFlags(o).long ?? []);

/** The first cell of each row of the README's command table: `runbook run <runbook> [--set k=v] …`. */
function tableRows(text: string): string[] {
  const section = text.slice(text.indexOf('## The CLI'), text.indexOf('\n## ', text.indexOf('## The CLI') + 1));
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `runbook'))
    .map((line) => (line.split(/(?<!\\)\|/)[1] ?? '').trim().replaceAll('\\|', '|'));
}

/**
 * What the README's table leaves out: a command without a row, a row without a command, or a
 * flag (of the command or of its subcommands) its row does not show.
 */
function missingFromTable(text: string, specs: readonly CommandSpec[]): string[] {
  const rows = tableRows(text);
  const missing: string[] = [];
  for (const spec of specs) {
    const row = rows.find((r) => r.startsWith(`\`runbook ${spec.name}`));
    if (row === undefined) {
      missing.push(`no row for runbook ${spec.name}`);
      continue;
    }
    const subcommands = (spec.subcommands ?? []).filter((s) => !s.hidden);
    for (const sub of subcommands) if (!row.includes(sub.name)) missing.push(`runbook ${spec.name} ${sub.name}`);
    // An option is shown by either of its flags (`-c CMD` for `-c, --command <command>`).
    for (const declared of [spec, ...subcommands].flatMap((s) => Object.values(s.options ?? {}))) {
      const { short, long } = optionFlags(declared);
      const shown = [short, long].some((f) => f !== undefined && new RegExp(`${f}(?![\\w-])`).test(row));
      if (!shown) missing.push(`runbook ${spec.name} ${long ?? short}`);
    }
  }
  for (const row of rows) {
    const name = /^`runbook ([\w-]+)/.exec(row)?.[1];
    if (!specs.some((s) => s.name === name)) missing.push(`a row for an unknown command: ${row}`);
  }
  const globals = text.slice(text.indexOf('Global options:'), text.indexOf('\n\n', text.indexOf('Global options:')));
  for (const f of longFlags({ options: globalOptions })) if (!globals.includes(f)) missing.push(`global ${f}`);
  return missing;
}

describe('the commands are declared once, in src/cli/commands', () => {
  it('each command module declares the command it is listed under, and every option under the name its action reads', async () => {
    for (const [name, load] of Object.entries(commandLoaders)) expect((await load()).name).toBe(name);
    // applySpec refuses an option whose key is not commander's name for it.
    const root = applySpec(new Command('runbook'), program, async () => {});
    for (const spec of commands) expect(() => applySpec(root.command(spec.name), spec, async () => {})).not.toThrow();
    expect(() =>
      applySpec(
        new Command('x'),
        { name: 'x', description: '', options: { dryRun: flag('--dry', '') } },
        async () => {},
      ),
    ).toThrow(/--dry is declared as "dryRun"; commander calls it "dry"/);
  });

  it('the hidden commands are declarations too, and no help or completion lists them', () => {
    expect(commands.filter((c) => c.hidden).map((c) => c.name)).toEqual(['__complete', '__watchdog', '__revert-due']);
    expect(visible.map((c) => c.name)).not.toContain('__watchdog');
    expect(visible.map((c) => c.name)).not.toContain('__revert-due');
  });
});

describe("the README's CLI table follows the declarations", () => {
  it('has a row for every command, showing every flag of it and of its subcommands, and the global options', () => {
    expect(missingFromTable(readme, visible)).toEqual([]);
  });

  it('fails when a command gains a flag the table does not show', () => {
    const run = visible.find((c) => c.name === 'run') as CommandSpec;
    const withNewFlag = { ...run, options: { ...run.options, dryRun: flag('--dry-run', 'nothing is changed') } };
    const others = visible.filter((c) => c !== run);
    expect(missingFromTable(readme, [...others, withNewFlag])).toEqual(['runbook run --dry-run']);
    expect(missingFromTable(readme, [...visible, { name: 'deploy', description: '', stateDir: 'none' }])).toEqual([
      'no row for runbook deploy',
    ]);
  });
});

describe('--help and the completion scripts are made from the declarations', () => {
  const out: string[] = [];
  afterEach(() => {
    out.length = 0;
    vi.restoreAllMocks();
  });
  const capture = () =>
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });

  it("each command's --help shows its options, examples and exit codes", async () => {
    for (const spec of visible) {
      capture();
      expect(await main([spec.name, '--help'])).toBe(0);
      vi.restoreAllMocks();
      const help = out.splice(0).join('');
      for (const f of longFlags(spec)) expect(help).toContain(f);
      for (const [example] of spec.examples ?? []) expect(help).toContain(example);
      if (spec.exitCodes !== undefined) expect(help).toContain('Exit codes:');
      // Issue 26: a list option starts empty without saying "(default: [])"; every example says what it does.
      expect(help).not.toContain('(default: [])');
      for (const [example, says] of spec.examples ?? []) expect(says.trim(), example).not.toBe('');
    }
  });

  it("the README's runbook table has a row for every shipped runbook (issue 26: forward-filter was missing)", async () => {
    capture();
    expect(await main(['list', '--json'])).toBe(0);
    vi.restoreAllMocks();
    const listed = JSON.parse(out.splice(0).join('')) as Array<{ name: string; origin: string }>;
    const shipped = listed.filter((r) => r.origin === 'shipped').map((r) => r.name);
    expect(shipped.length).toBeGreaterThan(3);
    const rows = readme.split('\n').filter((line) => line.startsWith('| `'));
    for (const name of shipped)
      expect(
        rows.some((row) => row.split(' | ')[0]?.includes(`\`${name}\``)),
        name,
      ).toBe(true);
  });

  it('list --json prints JSON alone: every runbook, where it is from, what it shadows (issue 26)', async () => {
    capture();
    expect(await main(['list', '--json'])).toBe(0);
    vi.restoreAllMocks();
    const listed = JSON.parse(out.splice(0).join('')) as Array<{ name: string; origin: string; refused: unknown }>;
    expect(listed.map((r) => r.name)).toEqual(expect.arrayContaining(['single-container', 'forward-filter']));
    expect(listed.find((r) => r.name === 'single-container')).toMatchObject({ origin: 'shipped', refused: null });
  });

  it('the completion scripts offer every flag of every command the user may type', () => {
    const lines: string[] = [];
    const ctx = { out: (line: string) => lines.push(line) } as unknown as CliContext;
    for (const shell of ['bash', 'zsh'] as const) {
      completionCommand(ctx, shell, commands);
      const script = lines.splice(0).join('\n');
      for (const spec of visible) {
        for (const f of longFlags(spec)) expect(script).toMatch(new RegExp(`'runbook ${spec.name}'[^)]*?${f}`));
      }
      expect(script).not.toContain('__watchdog');
    }
  });
});
