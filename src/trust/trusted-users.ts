import { readFileSync, realpathSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../version.js';
import { readEnv } from '../env.js';

/**
 * Whose files runbook believes (issue 22): a state dir, a runbook, an include or a cached plan
 * decides what root runs, so each is used only when its owner is one of these users. The rule
 * and its reasoning are written once, for users, in docs/how-it-works.md ("Trust").
 *
 * - You (this process's effective uid), and root: whoever owns the files you act with.
 * - The owner of the code you run, when it is you who ran it with sudo. Root running runbook
 *   from a checkout or an install owned by user U runs whatever U put there: U already
 *   controls what root executes, so U's state dir and runbooks give U nothing more. That is
 *   the learner's `sudo runbook run …` in their own clone.
 * - Nobody else. A checkout owned by a third user (neither root nor the one who ran sudo) is
 *   not extended this trust: its owner is refused like anyone else, and the refusal says why.
 */
export interface TrustedUsers {
  /** The uids whose files are believed. */
  readonly uids: ReadonlySet<number>;
  /** This process's effective uid. */
  readonly me: number;
  /** The user who ran sudo (SUDO_UID) when this process is root; undefined otherwise. */
  readonly invoker: number | undefined;
  /** Who owns the code running now (a checkout, an install, the one-file bundle), unless root does. */
  readonly code: { owner: number; dir: string } | undefined;
}

/** What the rule is decided from; the running process's by default (`currentTrustFacts`). */
export interface TrustFacts {
  me: number;
  /** SUDO_UID as the environment gives it. */
  sudoUid: string | undefined;
  /** The owner and place of the code running now, if found. */
  code: { owner: number; dir: string } | undefined;
}

/** The rule above, as a pure function of the facts. */
export function decideTrustedUsers(facts: TrustFacts): TrustedUsers {
  const invoker = facts.me === 0 ? parseUid(facts.sudoUid) : undefined;
  const code = facts.code !== undefined && facts.code.owner !== 0 ? facts.code : undefined;
  const uids = new Set([facts.me, 0]);
  if (code !== undefined && invoker === code.owner) uids.add(code.owner);
  return { uids, me: facts.me, invoker, code };
}

let current: TrustedUsers | undefined;

/** The rule for this process, decided once (the facts do not change while it runs). */
export function trustedUsers(): TrustedUsers {
  return (current ??= decideTrustedUsers(currentTrustFacts()));
}

export function currentTrustFacts(): TrustFacts {
  return { me: process.geteuid?.() ?? 0, sudoUid: readEnv('sudoUid'), code: codeOwner() };
}

export function isTrustedOwner(users: TrustedUsers, uid: number): boolean {
  return users.uids.has(uid);
}

/**
 * Who owns the code: the package root (a checkout or an installed package: whoever owns it can
 * replace dist/ and bin/ in it), or for the one-file bundle, the bundle file itself.
 */
function codeOwner(): { owner: number; dir: string } | undefined {
  try {
    const dir = realpathSync(packageRoot ?? fileURLToPath(import.meta.url));
    return { owner: statSync(dir).uid, dir };
  } catch {
    return undefined; // not a file (a data: URL, say): no owner to extend trust to
  }
}

function parseUid(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const uid = Number(text);
  return Number.isSafeInteger(uid) ? uid : undefined;
}

/** A uid's name from /etc/passwd, else the number. */
export function userName(uid: number): string {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name !== undefined && id !== '' && Number(id) === uid) return name;
    }
  } catch {
    // no passwd file (a minimal container): the number says enough
  }
  return String(uid);
}

/** "alice (uid 1000)". */
export function describeUser(uid: number): string {
  const name = userName(uid);
  return name === String(uid) ? `uid ${uid}` : `${name} (uid ${uid})`;
}

/** Who is trusted, in words, for a refusal: "you (root)" or "root and alice, who owns the code you run". */
export function trustedInWords(users: TrustedUsers): string {
  const me = users.me === 0 ? 'you (root)' : `you (${userName(users.me)}) or root`;
  const owner = users.code !== undefined && users.uids.has(users.code.owner) && users.code.owner !== users.me;
  return owner ? `${me} or ${userName(users.code!.owner)}, who owns the code you run` : me;
}

/**
 * When a refused file's owner is the owner of the code but is not trusted (a checkout of a
 * third user, run as root for someone else or with no sudo): the sentence that says why, and a
 * way out that works. Undefined for any other owner.
 */
export function thirdUserCode(users: TrustedUsers, owner: number): string | undefined {
  if (users.code === undefined || users.code.owner !== owner || users.uids.has(owner)) return undefined;
  const who = users.invoker === undefined ? 'root, not through sudo' : `sudo by ${describeUser(users.invoker)}`;
  return (
    `the runbook you run (${users.code.dir}) belongs to ${describeUser(owner)}, and you ran it as ${who}: ` +
    `a checkout owner's files are trusted only when that owner runs it with sudo (docs/how-it-works.md, "Trust")`
  );
}
