// Rebooting and shutting down hosts, wire contract: what power.reboot and
// power.shutdown take and what an agent answers. Names and fields are the
// reference's (PowerRequest: delay, message; PowerResult: action, delay,
// changed).
import { type Static, Type } from 'typebox';

/** At most a day ahead: a later power action is a schedule, not a request. */
export const POWER_DELAY_MAX_S = 86_400;
export const POWER_MESSAGE_MAX = 256;
/** One line of printable text, not starting with '-' (nothing a tool could read as an option). */
export const POWER_MESSAGE_PATTERN = '^(?!-)[^\\u0000-\\u001f\\u007f]*$';
export const POWER_MESSAGE_EXPECTED =
  "must be one line of text without control characters, not starting with '-'";

export const PowerData = Type.Object(
  {
    delay: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: POWER_DELAY_MAX_S,
        description:
          'Seconds to wait before acting (default 0: at once). shutdown counts in minutes: a delay is rounded up to whole minutes, and the result says the delay taken.',
      }),
    ),
    message: Type.Optional(
      Type.String({
        maxLength: POWER_MESSAGE_MAX,
        pattern: POWER_MESSAGE_PATTERN,
        description: "The message shutdown sends to the host's logged-in users.",
      }),
    ),
  },
  { additionalProperties: false, examples: [{ delay: 60, message: 'kernel update' }] },
);
export type PowerData = Static<typeof PowerData>;

export const PowerResult = Type.Object({
  action: Type.Union([Type.Literal('reboot'), Type.Literal('shutdown')]),
  delay: Type.Integer({
    minimum: 0,
    description: 'Seconds until the host acts, as scheduled (whole minutes, or 0 for at once).',
  }),
  changed: Type.Boolean({
    description: 'True: the action is scheduled. The host acts after this answer is stored.',
  }),
});
export type PowerResult = Static<typeof PowerResult>;
