import { closeSync, constants, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import type { CommandRequest, CommandResult } from './types.js';

/**
 * At most this much of a file is read: a kernel setting is a few bytes, a /proc table a few
 * KiB. A larger file fails the read (as "could not start"), rather than being judged on a part.
 */
export const maxReadBytes = 64 * 1024;

/**
 * A `read:` check (issue 16): the file the kernel exposes (/proc/sys/…, /sys/…) read in this
 * process instead of spawning `cat` for it. Its result has a command's shape, as `cat` would
 * give it: the content on stdout and exit status 0; a file that cannot be read (missing,
 * not permitted) is exit status 1 with the reason on stderr, since "the interface has no
 * /proc/sys/net/ipv4/conf/<name>" is a fact about the host that a check judges. A directory
 * gives its entries' names, sorted, one a line (`read: /run/netns` lists the namespaces, as
 * `ip netns list` does).
 *
 * The read never waits: the file is opened non-blocking, and only regular files and
 * directories are read (a FIFO or a device is refused), so it needs no process to kill. It is
 * synchronous, and still honours its timeout the only way a read can: one that took longer
 * counts as timed out. The process reads in the network and mount namespaces it runs in; with
 * `--sandbox` or `--in` that is the sandbox host's (the CLI re-executes itself there).
 */
export function readFileInProcess({ argv, read: file, timeoutMs, readOnly }: CommandRequest): CommandResult {
  const started = performance.now();
  const result = (fields: Partial<CommandResult>): CommandResult => {
    const durationMs = Math.round(performance.now() - started);
    return {
      exitCode: undefined,
      signal: undefined,
      stdout: '',
      stderr: '',
      durationMs,
      timedOut: durationMs > timeoutMs,
      startError: undefined,
      ...fields,
    };
  };
  // The format allows reads only in checks and probes; a plan that asks for one elsewhere was
  // not made by render.ts, and is refused rather than obeyed.
  if (file === undefined || !file.startsWith('/') || readOnly !== true)
    return result({ startError: `not a read this engine does: ${argv.join(' ')} (reads are for checks and probes)` });
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    return result({ exitCode: 1, stderr: readError(file, error) });
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) {
      const names = listing(file);
      if (names.length > maxReadBytes)
        return result({
          startError: `${file} lists more than ${maxReadBytes} bytes of names: check it with a command`,
        });
      return result({ exitCode: 0, stdout: names });
    }
    if (!stat.isFile())
      return result({ startError: `${file} is not a regular file or a directory: a read check does not read it` });
    const buffer = Buffer.alloc(maxReadBytes + 1);
    let length = 0;
    // /proc files report size 0: read until end of file, one byte past the limit at most.
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > maxReadBytes)
        return result({
          startError: `${file} is larger than ${maxReadBytes} bytes, more than a read check reads: check it with a command`,
        });
    }
    return result({ exitCode: 0, stdout: buffer.toString('utf8', 0, length) });
  } catch (error) {
    return result({ exitCode: 1, stderr: readError(file, error) });
  } finally {
    closeSync(fd);
  }
}

/** A directory's entries as `ls -1` shows them (without dot files): sorted, one a line. */
function listing(directory: string): string {
  const names = readdirSync(directory)
    .filter((name) => !name.startsWith('.'))
    .sort();
  return names.map((name) => `${name}\n`).join('');
}

/** What `cat` would say, with the errno: "read /proc/x: No such file or directory (ENOENT)". */
function readError(file: string, error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  // Node's message is "ENOENT: no such file or directory, open '/x'": keep the middle.
  const reason = message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  return `read ${file}: ${reason} (${code ?? 'error'})\n`;
}
