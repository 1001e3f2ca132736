// Go-style duration strings ("30s", "1h30m", "7d") <-> integer milliseconds. The config file speaks
// strings so it stays readable; the loaded config holds milliseconds so callers never parse again.

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

/**
 * What a valid duration looks like, as a JSON-schema pattern. `0` alone is accepted without a unit,
 * as Go's time.ParseDuration does; any other number needs one. Kept in sync with parseDuration.
 */
export const DURATION_PATTERN = '^(?:0|(?:[0-9]+(?:ms|s|m|h|d))+)$';

const DURATION_RE = new RegExp(DURATION_PATTERN);
// `ms` must come before `m` and `s` so that "500ms" is not read as 500 minutes then a stray "s".
const PART_RE = /([0-9]+)(ms|s|m|h|d)/g;

/** Human wording used in error messages for a bad duration. */
export const DURATION_EXPECTED = 'a duration like 500ms, 30s, 2m, 1h30m or 7d';

/** Parses "1h30m" into 5400000. Throws on anything that is not a non-negative Go-style duration. */
export function parseDuration(s: string): number {
  if (typeof s !== 'string' || !DURATION_RE.test(s)) {
    throw new Error(`invalid duration ${JSON.stringify(s)}: expected ${DURATION_EXPECTED}`);
  }
  let total = 0;
  for (const match of s.matchAll(PART_RE)) {
    const amount = Number(match[1]);
    const unit = match[2] as Unit;
    total += amount * UNIT_MS[unit];
  }
  if (!Number.isSafeInteger(total)) {
    throw new Error(`invalid duration ${JSON.stringify(s)}: too large`);
  }
  return total;
}

/** Formats milliseconds as the shortest duration string: 90061000 -> "1d1h1m1s", 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RangeError(`cannot format duration ${ms}: expected a non-negative number`);
  }
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit];
    const amount = Math.floor(rest / size);
    if (amount > 0) {
      out += `${amount}${unit}`;
      rest -= amount * size;
    }
  }
  return out;
}
