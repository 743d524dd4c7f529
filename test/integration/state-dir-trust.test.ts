import { execa } from 'execa';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { journalFormat } from '../../src/journal/entries.js';
import { genesisHash, hashLine } from '../../src/journal/hash-chain.js';
import { auditFile, indexFile, journalFile, lockFile, runsDir } from '../../src/journal/paths.js';
import { currentBootId } from '../../src/journal/process-identity.js';
import { verifyJournal, readJournal } from '../../src/journal/reader.js';
import { fileTree, forgeJournal, inSandbox, onlyRunId, readJournalText } from '../helpers/cli-harness.js';
import { cliPath, type ExecResult, type SandboxHost } from '../helpers/sandbox-host.js';
import { removeDir, tempDir } from '../helpers/temp-dir.js';

/**
 * Issue 10 through the real CLI, each case in a throwaway sandbox host (`unshare --net
 * --mount`): an attacker who can write in the state dir, links planted where runbook writes,
 * damaged journals, a full disk, a stale lock whose pid was reused, hostile YAML. Every case
 * shows the attack refused or harmless: exit codes as promised, no stack trace, the sandbox's
 * network and every file outside the state dir untouched, nothing planted ever executed.
 */

const sd = (stateDir: string) => ['--state-dir', stateDir];
const nobody = 65534;

/** No stack trace: no "    at fn (file:line)" frame and no "internal error". */
function expectNoStackTrace(result: ExecResult): void {
  expect(result.stderr).not.toMatch(/^\s+at .+[:(]/m);
  expect(result.stderr).not.toContain('internal error');
}

/** Runs single-container to its end in the sandbox; returns the run id. */
async function runTutorial(host: SandboxHost, stateDir: string, extra: string[] = []): Promise<string> {
  const run = await host.runbook([...sd(stateDir), 'run', 'single-container', ...extra]);
  expect(run.exitCode, run.stderr).toBe(0);
  return onlyRunId(stateDir);
}

describe('an untrusted state dir is refused before it is read or written (exit 2)', () => {
  it('a forged journal (undo replaced, chain and index recomputed) in a state dir of mode 1777 or with foreign or linked entries: every command refuses, the planted command never runs', async () => {
    const outside = tempDir('runbook-outside-');
    try {
      await inSandbox(async (host, stateDir) => {
        const id = await runTutorial(host, stateDir);
        const end = await host.snapshot();
        const planted = path.join(outside, 'PLANTED-COMMAND-RAN');
        forgeJournal(stateDir, id, (entries) => {
          const plan = entries[0]!.plan as { steps: Array<{ undo: unknown[] }> };
          for (const step of plan.steps) step.undo = [{ argv: ['touch', planted], timeoutMs: 5000 }];
        });
        // The chain cannot tell: the forgery verifies.
        expect(verifyJournal(readJournal(journalFile(stateDir, id)), undefined)).toBeUndefined();

        const victim = path.join(outside, 'victim');
        writeFileSync(victim, 'precious\n');
        const spoilers: Array<[string, () => void, () => void, RegExp]> = [
          [
            'state dir mode 1777',
            () => chmodSync(stateDir, 0o1777),
            () => chmodSync(stateDir, 0o700),
            /the state dir .* is writable by anyone \(owner root \(uid 0\), mode 1777\)/,
          ],
          [
            'runs/ owned by nobody',
            () => chownSync(runsDir(stateDir), nobody, nobody),
            () => chownSync(runsDir(stateDir), 0, 0),
            /runs in the state dir .* is owned by nobody/,
          ],
          [
            'the journal owned by nobody',
            () => chownSync(journalFile(stateDir, id), nobody, nobody),
            () => chownSync(journalFile(stateDir, id), 0, 0),
            /\.ndjson in the state dir .* is owned by nobody/,
          ],
          [
            'the index writable by anyone',
            () => chmodSync(indexFile(stateDir, id), 0o666),
            () => chmodSync(indexFile(stateDir, id), 0o600),
            /\.json in the state dir .* is writable by anyone/,
          ],
          [
            'the lock a link',
            () => symlinkSync(victim, lockFile(stateDir)),
            () => rmSync(lockFile(stateDir)),
            /lock in the state dir .* is a symbolic link/,
          ],
          [
            'audit.ndjson a link',
            () => symlinkSync(victim, auditFile(stateDir)),
            () => rmSync(auditFile(stateDir)),
            /audit\.ndjson in the state dir .* is a symbolic link/,
          ],
        ];
        // Every command that uses the state dir, for the first; the two that matter most (root
        // running recorded commands, a reader trusting them) for the others, to keep this fast.
        const everyCommand = [
          ['rollback'],
          ['rollback', id],
          ['resume'],
          ['runs'],
          ['journal', 'latest'],
          ['journal', id, '--verify'],
          ['run', 'single-container'],
          ['check', 'single-container'],
          ['sandbox', 'list'],
        ];
        for (const [what, spoil, mend, reason] of spoilers) {
          spoil();
          const before = fileTree(stateDir);
          for (const args of what === spoilers[0]![0] ? everyCommand : [['rollback'], ['journal', 'latest']]) {
            const result = await host.runbook([...sd(stateDir), ...args]);
            expect(result.exitCode, `${what}: ${args.join(' ')}: ${result.stderr}${result.stdout}`).toBe(2);
            expect(result.stderr).toMatch(reason);
            expect(result.stderr).toMatch(
              /hint: (if its content is yours to trust: chown root: .*; chmod [67]00 |chmod go-w |remove the link)/,
            );
            expectNoStackTrace(result);
          }
          expect(fileTree(stateDir), what).toEqual(before);
          mend();
        }
        expect(existsSync(planted)).toBe(false);
        expect(readFileSync(victim, 'utf8')).toBe('precious\n');
        expect(await host.snapshot()).toEqual(end);
      });
    } finally {
      removeDir(outside);
    }
  });

  it('a read-only state dir, a state dir that is a file, or a link: exit 2 naming the path', async () => {
    await inSandbox(async (host, stateDir) => {
      const before = await host.snapshot();
      const file = path.join(stateDir, 'a-file');
      writeFileSync(file, '');
      const link = path.join(stateDir, 'a-link');
      symlinkSync(stateDir, link);
      const readOnly = path.join(stateDir, 'read-only');
      mkdirSync(readOnly, { mode: 0o700 });
      // Read-only inside the sandbox's own mount namespace only.
      for (const argv of [
        ['mount', '--bind', readOnly, readOnly],
        ['mount', '-o', 'remount,ro,bind', readOnly],
      ])
        expect((await host.exec(argv)).exitCode).toBe(0);
      for (const [dir, message] of [
        [file, `${file} is not a directory`],
        [link, `${link} is a symbolic link`],
        [readOnly, `the state dir ${readOnly} is not writable (read-only file system)`],
        [
          path.join(readOnly, 'new'),
          `cannot create the state dir: creating the directory ${readOnly}/new failed: read-only file system (EROFS)`,
        ],
      ] as const) {
        const result = await host.runbook([...sd(dir), 'run', 'single-container']);
        expect(result.exitCode, result.stderr).toBe(2);
        expect(result.stderr).toContain(message);
        expectNoStackTrace(result);
      }
      expect(await host.snapshot()).toEqual(before);
    });
  });

  it('state dirs, journals, indexes and the audit file are created private: dirs 0700, files 0600', async () => {
    await inSandbox(async (host, parent) => {
      const stateDir = path.join(parent, 'new', 'state');
      const id = await runTutorial(host, stateDir, ['--until', 'namespace']);
      const check = await host.runbook([...sd(stateDir), 'check', 'single-container']);
      expect(check.exitCode).toBe(1); // the run stopped after one step
      const mode = (file: string) => (lstatSync(file).mode & 0o777).toString(8);
      expect([stateDir, runsDir(stateDir)].map(mode)).toEqual(['700', '700']);
      expect([journalFile(stateDir, id), indexFile(stateDir, id), auditFile(stateDir)].map(mode)).toEqual([
        '600',
        '600',
        '600',
      ]);
    });
  });
});

describe('sandbox destroy and list touch only what sandbox create made', () => {
  it('sandboxes/NAME planted as a link to a dir outside, or a real dir without the marker: refused, nothing deleted', async () => {
    const outside = tempDir('runbook-outside-');
    try {
      await inSandbox(async (host, stateDir) => {
        writeFileSync(path.join(outside, 'precious'), 'precious\n');
        mkdirSync(path.join(stateDir, 'sandboxes'), { mode: 0o700 });
        symlinkSync(outside, path.join(stateDir, 'sandboxes', 'lab'));
        for (const args of [
          ['sandbox', 'destroy', 'lab'],
          ['sandbox', 'list'],
        ]) {
          const result = await host.runbook([...sd(stateDir), ...args]);
          expect(result.exitCode, result.stderr).toBe(2);
          expect(result.stderr).toContain(
            `sandboxes/lab in the state dir ${stateDir}/sandboxes/lab is a symbolic link`,
          );
          expectNoStackTrace(result);
        }
        rmSync(path.join(stateDir, 'sandboxes', 'lab'));
        // A real dir, but not one `sandbox create` made (no marker): not a sandbox.
        const fake = path.join(stateDir, 'sandboxes', 'lab');
        mkdirSync(fake, { mode: 0o700 });
        writeFileSync(path.join(fake, 'keep'), 'keep\n');
        const destroy = await host.runbook([...sd(stateDir), 'sandbox', 'destroy', 'lab']);
        expect(destroy.exitCode, destroy.stderr).toBe(2);
        expect(destroy.stderr).toContain('no sandbox named "lab"');
        const list = await host.runbook([...sd(stateDir), 'sandbox', 'list']);
        expect(list.stdout).toContain('no sandboxes');
        expect(readFileSync(path.join(fake, 'keep'), 'utf8')).toBe('keep\n');
      });
      expect(readFileSync(path.join(outside, 'precious'), 'utf8')).toBe('precious\n');
    } finally {
      removeDir(outside);
    }
  });
});

describe('damage is named, never read as "nothing"', () => {
  it('a journal emptied or deleted while its index records entries: rollback exits 1 "damaged" with the path and what disagrees; the host keeps its state', async () => {
    await inSandbox(async (host, stateDir) => {
      const id = await runTutorial(host, stateDir);
      const end = await host.snapshot();
      const entries = readJournalText(stateDir, id).length;
      const saved = readFileSync(journalFile(stateDir, id));
      for (const [what, damage] of [
        ['emptied', () => truncateSync(journalFile(stateDir, id), 0)],
        ['deleted', () => rmSync(journalFile(stateDir, id))],
      ] as const) {
        damage();
        for (const args of [['rollback'], ['rollback', id], ['journal', id]]) {
          const result = await host.runbook([...sd(stateDir), ...args]);
          expect(result.exitCode, `${what}: ${args.join(' ')}: ${result.stderr}${result.stdout}`).toBe(1);
          expect(result.stderr).toContain(
            `its index records ${entries} journal entries but ${journalFile(stateDir, id)} is ${what === 'emptied' ? 'empty' : 'missing'}`,
          );
          expect(result.stdout).not.toContain('nothing to roll back');
          expectNoStackTrace(result);
        }
        const runs = await host.runbook([...sd(stateDir), 'runs']);
        expect(runs.exitCode).toBe(0);
        expect(runs.stdout).toMatch(new RegExp(`${id} +single-container +damaged`));
        writeFileSync(journalFile(stateDir, id), saved, { mode: 0o600 });
      }
      expect(await host.snapshot()).toEqual(end);
    });
  });

  it('a deleted or unreadable index is rebuilt from the journal, with a note: the run is listed and rolled back', async () => {
    await inSandbox(async (host, stateDir) => {
      const before = await host.snapshot();
      const id = await runTutorial(host, stateDir);
      rmSync(indexFile(stateDir, id));
      const runs = await host.runbook([...sd(stateDir), 'runs', '--json']);
      expect(JSON.parse(runs.stdout)).toMatchObject([{ id, runbook: 'single-container', status: 'succeeded' }]);
      writeFileSync(indexFile(stateDir, id), 'not json', { mode: 0o600 });
      const rollback = await host.runbook([...sd(stateDir), 'rollback']);
      expect(rollback.exitCode, rollback.stderr).toBe(0);
      expect(rollback.stderr).toContain(
        `note: the index of run ${id} (${indexFile(stateDir, id)}) was unreadable; it was rebuilt from its journal`,
      );
      expect(await host.snapshot()).toEqual(before);
      // The index is whole again.
      expect(JSON.parse(readFileSync(indexFile(stateDir, id), 'utf8'))).toMatchObject({ id, status: 'rolled-back' });
    });
  });

  it('newer damaged runs (first line not run-start; index not JSON and no journal) do not block runs, journal latest or rollback of the good run; they are skipped with a note', async () => {
    await inSandbox(async (host, stateDir) => {
      const before = await host.snapshot();
      const good = await runTutorial(host, stateDir);
      const notStart = '20991231T000000.000Z-bad1';
      const goodFirst = readJournalText(stateDir, good)[0]!;
      const second = JSON.parse(readJournalText(stateDir, good)[1]!) as Record<string, unknown>;
      writeFileSync(journalFile(stateDir, notStart), `${JSON.stringify({ ...second, seq: 1, prev: genesisHash })}\n`, {
        mode: 0o600,
      });
      writeFileSync(
        indexFile(stateDir, notStart),
        JSON.stringify({
          ...JSON.parse(readFileSync(indexFile(stateDir, good), 'utf8')),
          id: notStart,
          lastSeq: 1,
          lastHash: hashLine(goodFirst),
        }),
        { mode: 0o600 },
      );
      const notJson = '20991231T000000.000Z-bad2';
      writeFileSync(indexFile(stateDir, notJson), '{ not json', { mode: 0o600 });

      const runs = await host.runbook([...sd(stateDir), 'runs']);
      expect(runs.exitCode, runs.stderr).toBe(0);
      expect(runs.stdout).toMatch(new RegExp(`${good} +single-container +succeeded`));
      expect(runs.stdout).toMatch(new RegExp(`${notJson} +\\? +damaged`));
      expectNoStackTrace(runs);

      const latest = await host.runbook([...sd(stateDir), 'journal', 'latest']);
      expect(latest.exitCode, latest.stderr).toBe(0);
      expect(latest.stdout).toContain(`run ${good} of single-container`);
      expect(latest.stderr).toContain(`note: skipped run ${notJson}, which is damaged`);

      const named = await host.runbook([...sd(stateDir), 'journal', notStart]);
      expect(named.exitCode).toBe(1);
      expectNoStackTrace(named);

      const rollback = await host.runbook([...sd(stateDir), 'rollback']);
      expect(rollback.exitCode, rollback.stderr).toBe(0);
      expect(rollback.stderr).toContain(`note: skipped run ${notJson}: run ${notJson} is damaged`);
      expect(rollback.stderr).toContain(`note: skipped run ${notStart}:`);
      expect(rollback.stdout).toContain(`run ${good} rolled back`);
      expectNoStackTrace(rollback);
      expect(await host.snapshot()).toEqual(before);
    });
  });

  it('a journal of an unknown format version is refused with exit 2, naming it', async () => {
    await inSandbox(async (host, stateDir) => {
      const id = await runTutorial(host, stateDir, ['--until', 'namespace']);
      forgeJournal(stateDir, id, (entries) => {
        entries[0]!.journalFormat = journalFormat + 1;
      });
      const after = await host.snapshot();
      for (const args of [
        ['journal', id],
        ['rollback', id],
        ['resume', id],
      ]) {
        const result = await host.runbook([...sd(stateDir), ...args]);
        expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(2);
        expect(result.stderr).toContain(`is in journal format ${journalFormat + 1}`);
        expect(result.stderr).toMatch(/\(journal format \d+, reads [^)]*\) does not know/);
        expectNoStackTrace(result);
      }
      expect(await host.snapshot()).toEqual(after);
    });
  });
});

describe('a full disk stops the run before its next host command', () => {
  it('state dir on an 80 KiB tmpfs: exit 1 naming the path and "no space left on device" and how to continue, no stack trace; once space is freed, rollback restores the host', async () => {
    await inSandbox(async (host, stateDir) => {
      const before = await host.snapshot();
      // Mounted inside the sandbox's own mount namespace: it vanishes with it.
      expect((await host.exec(['mount', '-t', 'tmpfs', '-o', 'size=80k,mode=0700', 'tmpfs', stateDir])).exitCode).toBe(
        0,
      );
      const run = await host.runbook([...sd(stateDir), 'run', 'single-container']);
      expect(run.exitCode, run.stderr).toBe(1);
      expect(run.stderr).toMatch(
        new RegExp(`runbook: writing ${stateDir}/runs/\\S+ failed: no space left on device \\(ENOSPC\\)`),
      );
      const id = /runs\/(\S+)\.ndjson/.exec(run.stderr)?.[1] ?? /runs\/(\S+)\.json/.exec(run.stderr)?.[1];
      expect(id).toMatch(/^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{4}$/);
      expect(run.stderr).toContain(
        `hint: free space on that file system, then continue the run with \`runbook --state-dir ${stateDir} resume ${id}\` or undo it with \`runbook --state-dir ${stateDir} rollback ${id}\``,
      );
      expectNoStackTrace(run);
      // Stopped mid-run: some steps were done.
      expect(run.stdout).toMatch(/changed/);
      expect(await host.snapshot()).not.toEqual(before);

      // The journal on the tmpfs (seen from inside the sandbox) is whole: every line complete
      // and chained, so everything done is known.
      expect((await host.exec(['mount', '-o', 'remount,size=1m', stateDir])).exitCode).toBe(0);
      const verify = await host.runbook([...sd(stateDir), 'journal', 'latest', '--verify']);
      expect(verify.exitCode, verify.stderr).toBe(0);
      const rollback = await host.runbook([...sd(stateDir), 'rollback']);
      expect(rollback.exitCode, rollback.stderr).toBe(0);
      expect(await host.snapshot()).toEqual(before);
    });
  });
});

describe('lock identity survives pid reuse', () => {
  it('a lock whose pid now belongs to another live process (pid 1) is taken over with a note, not exit 3', async () => {
    await inSandbox(async (host, stateDir) => {
      writeFileSync(
        lockFile(stateDir),
        JSON.stringify({
          pid: 1,
          startTime: '999999999999',
          bootId: currentBootId(),
          command: 'run x',
          since: '2026-01-01T00:00:00.000Z',
        }),
        { mode: 0o600 },
      );
      const run = await host.runbook([...sd(stateDir), 'run', 'single-container', '--until', 'namespace']);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stderr).toContain(
        'note: took over the lock left by pid 1 (run x, since 2026-01-01T00:00:00.000Z), whose pid now belongs to another process',
      );
      expect(existsSync(lockFile(stateDir))).toBe(false);
    });
  });
});

describe('hostile YAML is input, not an internal error', () => {
  const bomb = [
    'a: &a ["x","x","x","x","x","x","x","x","x"]',
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
    'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
    'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
    'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
    'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
    '',
  ].join('\n');

  it('an alias bomb and an oversized file: exit 2 naming the limit (show runs nothing; run in a sandbox host)', async () => {
    const dir = tempDir('runbook-yaml-');
    try {
      writeFileSync(path.join(dir, 'bomb.yaml'), bomb);
      writeFileSync(path.join(dir, 'huge.yaml'), `# ${'x'.repeat(2_000_000)}\n`);
      const show = await execa(process.execPath, [cliPath, 'show', path.join(dir, 'bomb.yaml')], { reject: false });
      expect(show.exitCode, show.stderr).toBe(2);
      expect(show.stderr).toContain('too large once its YAML aliases are expanded');
      expectNoStackTrace({
        ...show,
        exitCode: show.exitCode,
        signal: undefined,
        stdout: show.stdout,
        stderr: show.stderr,
      });
      const huge = await execa(process.execPath, [cliPath, 'show', path.join(dir, 'huge.yaml')], { reject: false });
      expect(huge.exitCode, huge.stderr).toBe(2);
      expect(huge.stderr).toContain('too large for a runbook (2000003 bytes; at most 262144)');
      await inSandbox(async (host, stateDir) => {
        const result = await host.runbook([...sd(stateDir), 'run', path.join(dir, 'bomb.yaml')]);
        expect(result.exitCode, result.stderr).toBe(2);
        expectNoStackTrace(result);
        expect(existsSync(runsDir(stateDir))).toBe(false);
      });
    } finally {
      removeDir(dir);
    }
  });
});
