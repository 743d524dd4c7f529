import { execa } from 'execa';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Running runbook the way an installed copy runs: from a directory of its own, with a clean
 * environment (no RUNBOOK_STATE_DIR), so that its default paths are the ones exercised.
 *
 * As root the default state dir is /var/lib/runbook. To test exactly that path without
 * touching this machine's /var/lib, `asRootWithPrivateVarLib` runs the command in a mount
 * namespace of its own where `varLib` (a temp dir) is bind-mounted onto /var/lib: the
 * command writes /var/lib/runbook, the files land in varLib, and the machine's /var/lib never
 * changes. The one-shot sandbox `run --sandbox` makes inherits that mount.
 */
export function asRootWithPrivateVarLib(
  varLib: string,
  argv: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
) {
  const script = 'mount --bind "$0" /var/lib && exec "$@"';
  return execa('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, varLib, ...argv], {
    reject: false,
    timeout: 60_000,
    ...options,
  });
}

/** A clean environment: PATH finds this test's node first (for `#!/usr/bin/env node`), plus what is given. */
export function cleanEnv(env: Record<string, string> = {}): Record<string, string> {
  const nodeDir = path.dirname(process.execPath);
  return { PATH: `${nodeDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, ...env };
}

/** Lets other users (the unprivileged run of a test) into a temp dir made 0700 by mkdtemp. */
export function openToAll(dir: string): void {
  chmodSync(dir, 0o755);
}

/** Every file under dir, relative, for "nothing was written here" assertions. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const full = path.join(at, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(path.relative(dir, full));
    }
  };
  walk(dir);
  return out.sort();
}

/** Copies the checkout's sources as a fresh clone would have them (tracked and new files, nothing ignored). */
export async function cleanCopyOfCheckout(checkout: string, to: string): Promise<void> {
  const { stdout } = await execa('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: checkout,
  });
  for (const file of stdout.split('\0').filter((f) => f !== '')) {
    const from = path.join(checkout, file);
    // Skips what is deleted in the working tree but still in the index.
    if (!existsSync(from) || !statSync(from).isFile()) continue;
    mkdirSync(path.dirname(path.join(to, file)), { recursive: true });
    cpSync(from, path.join(to, file));
  }
}
