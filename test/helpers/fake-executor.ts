import type { CommandRequest, CommandResult, Executor } from '../../src/exec/types.js';

/** A scripted reply: a partial result, or a function of the argv. */
export type Reply = Partial<CommandResult> | ((argv: readonly string[]) => Partial<CommandResult>);

/**
 * A recording fake executor. Every call is recorded as a shell-like line; replies are chosen by
 * the first rule whose matcher (a substring of the joined argv) matches, defaulting to exit 0.
 * Rules can be changed between calls, so a test can make "verify" fail before "do" and pass after.
 */
export class FakeExecutor implements Executor {
  readonly calls: string[] = [];
  /** The stdin text each call was given, by call (undefined: stdin closed). */
  readonly inputs: Array<string | undefined> = [];
  private rules: Array<{ match: string; reply: Reply; times: number }> = [];

  /** Replies to commands containing `match` with `reply` (the next `times` times, default always). */
  on(match: string, reply: Reply, times = Infinity): this {
    this.rules.push({ match, reply, times });
    return this;
  }

  async run({ argv, input }: CommandRequest): Promise<CommandResult> {
    const line = argv.join(' ');
    this.calls.push(line);
    this.inputs.push(input);
    const rule = this.rules.find((r) => r.times > 0 && line.includes(r.match));
    let partial: Partial<CommandResult> = {};
    if (rule !== undefined) {
      rule.times -= 1;
      partial = typeof rule.reply === 'function' ? rule.reply(argv) : rule.reply;
    }
    return {
      exitCode: 0,
      signal: undefined,
      stdout: '',
      stderr: '',
      durationMs: 1,
      timedOut: false,
      startError: undefined,
      ...partial,
    };
  }
}

/** A stateful fake: `do` commands set a flag that `verify` commands read, like a tiny kernel. */
export class FakeHost implements Executor {
  readonly calls: string[] = [];
  readonly present = new Set<string>();
  /** Commands (by joined argv) that fail when run. */
  readonly failing = new Set<string>();

  async run({ argv }: CommandRequest): Promise<CommandResult> {
    const line = argv.join(' ');
    this.calls.push(line);
    const ok = (stdout = ''): CommandResult => ({
      exitCode: 0,
      signal: undefined,
      stdout,
      stderr: '',
      durationMs: 1,
      timedOut: false,
      startError: undefined,
    });
    const fail = (stderr = 'failed'): CommandResult => ({ ...ok(), exitCode: 1, stderr });
    if (this.failing.has(line)) return fail();
    const [verb, thing] = argv as [string, string];
    switch (verb) {
      case 'create':
        if (this.present.has(thing)) return fail(`${thing} exists`);
        this.present.add(thing);
        return ok();
      case 'delete':
        // Worded like `ip`, so the engine recognizes "already gone" (engine/already-gone.ts).
        if (!this.present.has(thing)) return fail(`Cannot find device "${thing}"`);
        this.present.delete(thing);
        return ok();
      case 'has':
        return this.present.has(thing) ? ok(`${thing}\n`) : fail(`no ${thing}`);
      default:
        return ok();
    }
  }
}
