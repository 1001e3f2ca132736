// Wire schemas of the session routes: who a token is, and the one-time login
// codes that let the web console sign in without a token in a URL.
import { type Static, Type } from 'typebox';

/** A login link is opened at once, or not at all. */
export const LOGIN_CODE_TTL_MS = 2 * 60_000;

export const WhoAmI = Type.Object({
  subject: Type.String(),
  roles: Type.Array(Type.String()),
  /** What the token may do, after role expansion (or its own permissions claim). */
  permissions: Type.Array(Type.String()),
  expires_at: Type.String({ format: 'date-time' }),
});
export type WhoAmI = Static<typeof WhoAmI>;

export const LoginCode = Type.Object({
  /** Single use; open `/ui/#login=<code>` before `expires_at`. */
  code: Type.String(),
  expires_at: Type.String({ format: 'date-time' }),
  /** When the session token the code turns into will expire. */
  session_expires_at: Type.String({ format: 'date-time' }),
});
export type LoginCode = Static<typeof LoginCode>;

export const SessionRequest = Type.Object(
  {
    code: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'The one-time code from POST /auth/login-code (what `osapi ui` prints).',
    }),
  },
  {
    additionalProperties: false,
    examples: [
      { code: '65255f40c148aaef6eb88f09964ff15aq0d2Yw9m3W1G0lQ8a6b5bT4hR2xZp7cK1jN9sV3uE0M' },
    ],
  },
);
export type SessionRequest = Static<typeof SessionRequest>;

export const Session = Type.Object({
  /** A bearer token for the console: same subject and roles, short-lived. */
  token: Type.String(),
  ...WhoAmI.properties,
});
export type Session = Static<typeof Session>;
