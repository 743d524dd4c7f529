/**
 * What the kernel (execve) or Node refuses before a program starts, checked before the engine
 * journals a command as started (issue 22): a NUL inside an argument (Node throws, and the run
 * used to be left `interrupted` on an "internal error"), an argument longer than Linux takes
 * (MAX_ARG_STRLEN, E2BIG), an empty program name. Such a command is journaled as not run, with
 * the reason, and counts as failed; nothing is ever journaled as started that could not start.
 */

/** Linux's MAX_ARG_STRLEN: 32 pages, counting the terminating NUL. */
const maxArgBytes = 131_072 - 1;

/**
 * All the arguments together. Linux allows a quarter of the stack limit (2 MiB by default) for
 * the arguments and the environment together; half of that is left for the environment.
 */
const maxArgvBytes = 1_048_576;

/** Why `argv` cannot be started, or undefined when it can. */
export function whyNotStartable(argv: readonly string[]): string | undefined {
  if (argv.length === 0 || argv[0] === '') return 'it has no program name';
  let total = 0;
  for (const [i, arg] of argv.entries()) {
    const at = i === 0 ? 'the program name' : `argument ${i}`;
    const nul = arg.indexOf('\0');
    if (nul !== -1) return `${at} holds a NUL character (at position ${nul + 1}), which no program can be given`;
    const bytes = Buffer.byteLength(arg);
    if (bytes > maxArgBytes)
      return `${at} is ${bytes.toLocaleString('en')} bytes long; Linux takes at most ${maxArgBytes.toLocaleString('en')}`;
    total += bytes + 1;
  }
  if (total > maxArgvBytes)
    return `its arguments are ${total.toLocaleString('en')} bytes together; at most ${maxArgvBytes.toLocaleString('en')} are passed to a program`;
  return undefined;
}
