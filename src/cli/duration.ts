import { invalidInput } from '../errors.js';

const unitMs = { s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** The longest window `--confirm-within` accepts: beyond a day, a change is not provisional. */
const maxMs = 24 * 3_600_000;

/**
 * Parses a duration as `--confirm-within` takes it: seconds (`90`), or a whole number with a
 * unit, `s`, `m` or `h` (`30s`, `5m`, `1h`). Exit 2 for anything else, before anything runs.
 */
export function parseDuration(flag: string, text: string): number {
  const match = /^([0-9]{1,6})([smh]?)$/.exec(text.trim());
  const ms = match === null ? Number.NaN : Number(match[1]) * unitMs[(match[2] || 's') as keyof typeof unitMs];
  if (!(ms > 0) || ms > maxMs) {
    throw invalidInput(
      `${flag} ${text}: not a duration between 1 second and 24 hours; nothing was changed`,
      `write seconds (90), or a number with s, m or h: 30s, 5m, 1h`,
    );
  }
  return ms;
}

/** "90 s", "5 min", "1 h 30 min": for messages. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const h = Math.floor(s / 3600);
  const min = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return [h > 0 ? `${h} h` : '', min > 0 ? `${min} min` : '', rest > 0 ? `${rest} s` : ''].filter(Boolean).join(' ');
}

const ageUnitMs = { ...unitMs, d: 86_400_000 } as const;

/**
 * Parses an age as `prune --older-than` takes it: a whole number with a unit, `s`, `m`, `h` or
 * `d` (`90s`, `12h`, `30d`), or seconds alone. Exit 2 for anything else, before anything runs.
 */
export function parseAge(flag: string, text: string): number {
  const match = /^([0-9]{1,6})([smhd]?)$/.exec(text.trim());
  const ms = match === null ? Number.NaN : Number(match[1]) * ageUnitMs[(match[2] || 's') as keyof typeof ageUnitMs];
  if (!(ms >= 0)) {
    throw invalidInput(
      `${flag} ${text}: not an age; nothing was changed`,
      `write a number with s, m, h or d: 90s, 12h, 30d`,
    );
  }
  return ms;
}
