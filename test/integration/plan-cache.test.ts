import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envVar } from '../../src/env.js';
import type { JournalLine } from '../../src/journal/entries.js';
import { plansDir } from '../../src/journal/paths.js';
import { resolvesOnPath } from '../../src/host/preflight.js';
import { inSandbox, journalIds, journalLines } from '../helpers/cli-harness.js';
import { cliPath, type ExecResult, type SandboxHost } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * The plan cache with the built CLI (issue 16), in a sandbox host: a re-run and `check` read the
 * plan back and never load the YAML parser or the schema (seen by logging every module the
 * process loads, through Node's module hooks), and behave as with a full parse: same steps, same
 * journal, the same preflight refusal. The cache's own rules (keys, trust, integrity) are unit
 * tests: test/runbook/plan-cache.test.ts.
 */

const registerHooks = fileURLToPath(new URL('../helpers/module-log/register.mjs', import.meta.url));

/** The CLI in the sandbox host, logging the modules it loads; returns its result and those modules. */
async function runbookLogged(
  host: SandboxHost,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<ExecResult & { modules: string[] }> {
  const log = path.join(tempDir('runbook-modules-'), 'modules.txt');
  try {
    // Through env(1): the sandbox host is entered with this PATH, the CLI may get another.
    const vars = Object.entries({ RUNBOOK_TEST_MODULE_LOG: log, ...env }).map(([k, v]) => `${k}=${v}`);
    const argv = ['env', ...vars, process.execPath, '--import', registerHooks, cliPath, ...args];
    const result = await host.start(argv, {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    }).done;
    const modules = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
    return { ...result, modules };
  } finally {
    removeDir(path.dirname(log));
  }
}

/**
 * The modules that are the YAML parser or zod: from node_modules (dist/), or the bundle's chunk
 * that holds them (its classes YAMLParseError and ZodError are nowhere else).
 */
function yamlOrZod(modules: readonly string[]): string[] {
  return modules.filter((url) => {
    if (/\/node_modules\/(yaml|zod)\//.test(url)) return true;
    if (!url.startsWith('file:') || !url.endsWith('.mjs')) return false;
    const text = readFileSync(fileURLToPath(url), 'utf8');
    return text.includes('YAMLParseError') || text.includes('ZodError');
  });
}

function runStart(stateDir: string, runId: string): Extract<JournalLine, { type: 'run-start' }> {
  const first = journalLines(stateDir, runId)[0] as JournalLine;
  expect(first.type).toBe('run-start');
  return first as Extract<JournalLine, { type: 'run-start' }>;
}

describe('the plan cache, with the built CLI', () => {
  it('a re-run and check of single-container load neither yaml nor zod, and journal what a full parse does', async () => {
    await inSandbox(async (host, stateDir) => {
      const first = await runbookLogged(host, ['--state-dir', stateDir, 'run', 'single-container']);
      expect(first.exitCode, first.stderr).toBe(0);
      // The detector sees them when they are loaded: a miss parses the YAML.
      expect(yamlOrZod(first.modules)).not.toEqual([]);
      expect(readdirSync(plansDir(stateDir))).toHaveLength(1);

      const rerun = await runbookLogged(host, ['--state-dir', stateDir, 'run', 'single-container']);
      expect(rerun.exitCode, rerun.stderr).toBe(0);
      expect(rerun.stdout).toContain('succeeded: nothing to change, every step already holds');
      expect(rerun.modules.length).toBeGreaterThan(5);
      expect(yamlOrZod(rerun.modules)).toEqual([]);

      const check = await runbookLogged(host, ['--state-dir', stateDir, 'check', 'single-container']);
      expect(check.exitCode, check.stderr).toBe(0);
      expect(check.stdout).toContain('ok: all');
      expect(yamlOrZod(check.modules)).toEqual([]);

      // A rebuild (here: the file holding the plan cache's code given another time, as every
      // build gives it) is a miss, though the version is the same.
      const cacheModule = check.modules.find(
        (url) =>
          url.endsWith('/runbook/plan-cache.js') ||
          (url.endsWith('.mjs') && readFileSync(fileURLToPath(url), 'utf8').includes('planCacheFormat')),
      );
      expect(cacheModule).toBeDefined();
      const moduleFile = fileURLToPath(cacheModule as string);
      const { mtime } = statSync(moduleFile);
      utimesSync(moduleFile, mtime, new Date(mtime.getTime() + 1000));
      const rebuilt = await runbookLogged(host, ['--state-dir', stateDir, 'check', 'single-container']);
      expect(rebuilt.exitCode, rebuilt.stderr).toBe(0);
      expect(yamlOrZod(rebuilt.modules)).not.toEqual([]);
      expect(readdirSync(plansDir(stateDir))).toHaveLength(2);

      // A third run with the cache off: its run-start pins exactly what the cached re-run pinned.
      const uncached = await runbookLogged(host, ['--state-dir', stateDir, 'run', 'single-container'], {
        [envVar.planCache]: 'off',
      });
      expect(uncached.exitCode, uncached.stderr).toBe(0);
      expect(yamlOrZod(uncached.modules)).not.toEqual([]);
      const [firstId, rerunId, uncachedId] = journalIds(stateDir) as [string, string, string];
      const pinned = (id: string) => {
        const { runbookFile, runbookHash, runbookSource, runbookIncludes, params, plan } = runStart(stateDir, id);
        return { runbookFile, runbookHash, runbookSource, runbookIncludes, params, plan };
      };
      expect(pinned(rerunId)).toStrictEqual(pinned(firstId));
      expect(pinned(rerunId)).toStrictEqual(pinned(uncachedId));
    });
  });

  it('takes no room a journal may need: on a small file system nothing is cached, and the run works as before', async () => {
    await inSandbox(async (host, stateDir) => {
      // Mounted inside the sandbox's own mount namespace (seen only from there): it vanishes with it.
      const mount = await host.exec(['mount', '-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', stateDir]);
      expect(mount.exitCode, mount.stderr).toBe(0);
      const run = await host.runbook(['--state-dir', stateDir, 'run', 'single-container']);
      expect(run.exitCode, run.stderr).toBe(0);
      const rerun = await runbookLogged(host, ['--state-dir', stateDir, 'run', 'single-container']);
      expect(rerun.exitCode, rerun.stderr).toBe(0);
      expect(yamlOrZod(rerun.modules)).not.toEqual([]); // parsed again: nothing was cached
      const listed = await host.exec(['ls', '-A', stateDir]);
      expect(listed.stdout.split('\n')).toContain('runs');
      expect(listed.stdout.split('\n')).not.toContain('plans');
    });
  });

  it('a cached plan is refused by preflight as a parsed one is: without ping, exit 2 naming it, nothing changed', async () => {
    const bin = path.join(tempDir('runbook-path-'), 'bin');
    mkdirSync(bin);
    for (const program of ['ip', 'cat', 'sysctl']) {
      const found = (process.env.PATH ?? '')
        .split(':')
        .map((dir) => path.join(dir, program))
        .find((file) => resolvesOnPath(file));
      if (found === undefined) throw new Error(`${program} is not installed on this machine`);
      symlinkSync(found, path.join(bin, program));
    }
    try {
      await inSandbox(async (host, stateDir) => {
        // `show` caches nothing; a check (which changes nothing) fills the cache.
        const filled = await runbookLogged(host, ['--state-dir', stateDir, 'check', 'single-container']);
        expect(filled.exitCode).toBe(1); // nothing holds yet on a fresh host
        const before = await host.snapshot();
        const refused = await runbookLogged(host, ['--state-dir', stateDir, 'run', 'single-container'], {
          PATH: bin,
        });
        expect(yamlOrZod(refused.modules)).toEqual([]);
        expect(refused.exitCode, refused.stderr).toBe(2);
        expect(refused.stderr).toContain('ping');
        expect(refused.stderr).toContain('iputils-ping');
        expect(journalIds(stateDir)).toEqual([]);
        expect(await host.snapshot()).toEqual(before);
      });
    } finally {
      rmSync(path.dirname(bin), { recursive: true, force: true });
    }
  });
});
