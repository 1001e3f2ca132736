// The system journal of the hosts, wire contract: what the log operations
// take (the reference's query fields: lines, since, priority; ours adds
// until and grep) and what an agent answers (LogEntryInfo, sources).
import { type Static, Type } from 'typebox';

export const LOG_LINES_DEFAULT = 100;
export const LOG_LINES_MAX = 1000;
/** A journal message is cut here: an answer holds up to LOG_LINES_MAX of them per host. */
export const LOG_MESSAGE_MAX_CHARS = 4096;

export const PRIORITIES = [
  'emerg',
  'alert',
  'crit',
  'err',
  'warning',
  'notice',
  'info',
  'debug',
] as const;

/** An ISO 8601 date or time (UTC without an offset), or an age: 30s, 15m, 2h, 7d. */
export const LOG_SINCE_PATTERN =
  '^([0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?|[0-9]{1,6}[smhd])$';
export const LOG_SINCE_EXPECTED =
  'must be an ISO 8601 date or time (2026-01-31, 2026-01-31T08:00:00Z) or an age (30s, 15m, 2h, 7d)';
/** A grep pattern: one line of printable characters, bounded (journalctl compiles it with PCRE2). */
export const LOG_GREP_MAX_CHARS = 256;
export const LOG_GREP_PATTERN = '^[^\\u0000-\\u001f\\u007f]+$';
export const LOG_GREP_EXPECTED = `must be a pattern of 1 to ${LOG_GREP_MAX_CHARS} characters without control characters (a PCRE2 regular expression, e.g. "publickey|password")`;
export const LOG_PRIORITY_PATTERN = '^(emerg|alert|crit|err|warning|notice|info|debug|[0-7])$';
export const LOG_PRIORITY_EXPECTED =
  'must be a priority: emerg, alert, crit, err, warning, notice, info, debug, or 0 to 7';
export const LOG_UNIT_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9:_.@\\\\-]{0,254}$';
export const LOG_UNIT_EXPECTED =
  "must be a unit name: letters, digits and : _ . @ - \\, not starting with '-' or '.', at most 255 characters (e.g. ssh.service)";

const filters = {
  lines: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: LOG_LINES_MAX,
      description: `How many entries, the newest (default ${LOG_LINES_DEFAULT}, at most ${LOG_LINES_MAX}).`,
    }),
  ),
  since: Type.Optional(
    Type.String({
      maxLength: 40,
      pattern: LOG_SINCE_PATTERN,
      description:
        'Entries from this time on: an ISO 8601 date or time (UTC without an offset), or an age (30s, 15m, 2h, 7d).',
    }),
  ),
  until: Type.Optional(
    Type.String({
      maxLength: 40,
      pattern: LOG_SINCE_PATTERN,
      description:
        'Entries up to this time: an ISO 8601 date or time (UTC without an offset), or an age (30s, 15m, 2h, 7d); not before since.',
    }),
  ),
  grep: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: LOG_GREP_MAX_CHARS,
      pattern: LOG_GREP_PATTERN,
      description:
        "Entries whose message matches this pattern (journalctl's --grep: PCRE2, case-insensitive unless the pattern has a capital letter).",
    }),
  ),
  priority: Type.Optional(
    Type.String({
      pattern: LOG_PRIORITY_PATTERN,
      description:
        'Entries of this priority and more urgent: emerg, alert, crit, err, warning, notice, info, debug, or 0 to 7.',
    }),
  ),
};

export const LogQueryData = Type.Object(filters, { additionalProperties: false });
export type LogQueryData = Static<typeof LogQueryData>;

export const LogUnitData = Type.Object(
  {
    name: Type.String({
      pattern: LOG_UNIT_PATTERN,
      description: 'The systemd unit, e.g. ssh.service.',
    }),
    ...filters,
  },
  { additionalProperties: false },
);
export type LogUnitData = Static<typeof LogUnitData>;

export const LogEntryInfo = Type.Object(
  {
    timestamp: Type.String({ description: 'When it was logged (ISO 8601, UTC).' }),
    unit: Type.String({
      description: 'The systemd unit, else the syslog identifier; empty when neither is known.',
    }),
    priority: Type.String({
      description: 'emerg, alert, crit, err, warning, notice, info, debug.',
    }),
    message: Type.String({
      description: `The message, cut at ${LOG_MESSAGE_MAX_CHARS} characters.`,
    }),
    pid: Type.Optional(Type.Integer()),
    hostname: Type.String(),
  },
  { description: 'An entry of the system journal.' },
);
export type LogEntryInfo = Static<typeof LogEntryInfo>;

export const LogListResult = Type.Object({ entries: Type.Array(LogEntryInfo) });
export const LogSourceResult = Type.Object({
  sources: Type.Array(Type.String(), {
    description: 'The syslog identifiers the journal holds entries of, sorted.',
  }),
});

const AGE_UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A `since` or `until` value as milliseconds since the epoch, or null when it
 * is not a time: an age counts back from `now`; a date or time without an
 * offset is UTC, so it means the same whatever the host's time zone.
 */
export function logTimeMs(value: string, now = Date.now()): number | null {
  const age = /^([0-9]{1,6})([smhd])$/.exec(value);
  const ms = age
    ? now - Number(age[1]) * (AGE_UNIT_S[age[2] as string] as number) * 1000
    : Date.parse(
        /[T ]/.test(value) && !/(Z|[+-][0-9]{2}:[0-9]{2})$/.test(value)
          ? `${value.replace(' ', 'T')}Z`
          : value,
      );
  return Number.isFinite(ms) ? ms : null;
}

export const LOG_UNTIL_BEFORE_SINCE = 'must not be before since';

/** `until` earlier than `since` (both read at the same moment), which no entry could match. */
export function logRangeProblem(
  filters: { since?: string; until?: string },
  now = Date.now(),
): string | null {
  if (filters.since === undefined || filters.until === undefined) return null;
  const since = logTimeMs(filters.since, now);
  const until = logTimeMs(filters.until, now);
  return since !== null && until !== null && until < since ? LOG_UNTIL_BEFORE_SINCE : null;
}
