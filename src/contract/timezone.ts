// The host's timezone, wire contract: what timezone.get and timezone.update
// take and what an agent answers. Names and fields are the reference's
// (TimezoneEntry, TimezoneUpdateRequest, TimezoneMutationResult).
import { type Static, Type } from 'typebox';

/** A tz database name: segments of letters, digits and _ + -, none starting with '-', joined by '/'. */
export const TIMEZONE_PATTERN = '^[A-Za-z0-9_+][A-Za-z0-9_+-]*(/[A-Za-z0-9_+][A-Za-z0-9_+-]*)*$';
export const TIMEZONE_MAX = 128;
export const TIMEZONE_EXPECTED =
  "must be a tz database name such as Europe/Berlin, UTC or America/Argentina/Buenos_Aires: letters, digits and _ + - in segments joined by '/', none starting with '-'";

export const TimezoneUpdateData = Type.Object(
  {
    timezone: Type.String({
      minLength: 1,
      maxLength: TIMEZONE_MAX,
      pattern: TIMEZONE_PATTERN,
      description:
        'A tz database name (e.g. Europe/Berlin, UTC); each host checks it names a zone file of its own tz database.',
    }),
  },
  { additionalProperties: false, examples: [{ timezone: 'Europe/Berlin' }] },
);
export type TimezoneUpdateData = Static<typeof TimezoneUpdateData>;

export const TimezoneResult = Type.Object({
  timezone: Type.String({ description: 'The tz database name the host is set to, e.g. Etc/UTC.' }),
  utc_offset: Type.String({
    description: "The zone's offset from UTC now, as +HH:MM (e.g. +01:00, -03:00, +00:00).",
  }),
});
export type TimezoneResult = Static<typeof TimezoneResult>;

export const TimezoneMutationResult = Type.Object({
  timezone: Type.String({ description: 'The tz database name the host is now set to.' }),
  changed: Type.Boolean({
    description: 'False when the host already had this timezone: nothing was written.',
  }),
});
export type TimezoneMutationResult = Static<typeof TimezoneMutationResult>;
