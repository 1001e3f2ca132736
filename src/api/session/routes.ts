// GET /auth/me, POST /auth/login-code and POST /auth/session: what a token is
// (so a client such as the web console offers only what it allows), and the
// one-time code exchange behind `osapi ui`'s login link (login-codes.ts).
import type { KV } from '@nats-io/kv';
import type { FastifyInstance } from 'fastify';
import { type CustomRoles, signToken, TokenRequestError } from '../../auth/index.js';
import {
  LOGIN_CODE_TTL_MS,
  LoginCode,
  Session,
  SessionRequest,
  type SessionRequest as SessionRequestBody,
  WhoAmI,
} from '../../contract/session.js';
import type { Clock } from '../../job/clock.js';
import { type AuthUser, verifiedUser } from '../auth.js';
import { ApiError } from '../errors.js';
import { LoginCodes, type LoginGrant } from './login-codes.js';

/** A console session lasts a working day, and never beyond the token that asked for it. */
export const SESSION_TTL_S = 8 * 60 * 60;
/**
 * Unused codes one token subject may have at once: a few links opened in a
 * row are fine; one token asking in a loop is refused (429) rather than
 * crowding out anyone else's.
 */
export const MAX_CODES_PER_USER = 5;
/** Unused codes of every user together; past it new ones are refused, none is dropped. */
export const MAX_OUTSTANDING_CODES = 1000;

export interface SessionDeps {
  signingKey: string;
  customRoles: CustomRoles;
  codes: LoginCodes;
  clock: Pick<Clock, 'now'>;
}

export function sessionDeps(
  auth: { signingKey: string; customRoles: CustomRoles },
  clock: Pick<Clock, 'now'>,
  /** The shared bucket of login codes (names.ts loginCodesBucket). */
  bucket: KV,
): SessionDeps {
  return {
    ...auth,
    clock,
    codes: new LoginCodes({
      bucket,
      secret: auth.signingKey,
      ttlMs: LOGIN_CODE_TTL_MS,
      max: MAX_OUTSTANDING_CODES,
      maxPerUser: MAX_CODES_PER_USER,
      now: () => clock.now().getTime(),
    }),
  };
}

/**
 * The console session token of a grant, valid from `nowMs` until its end
 * (never less than a second). Throws the 403 when no token can be made for
 * it (an unknown role, say).
 */
async function sessionToken(
  deps: SessionDeps,
  grant: Omit<LoginGrant, 'expires_at'>,
  nowMs: number,
): Promise<string> {
  try {
    return await signToken({
      subject: grant.subject,
      roles: grant.roles,
      ...(grant.permissions ? { permissions: grant.permissions } : {}),
      // Whole seconds, so the token's exp is the session_expires_at promised.
      lifetimeSeconds: Math.max(
        1,
        Math.floor(grant.session_expires_at / 1000) - Math.floor(nowMs / 1000),
      ),
      signingKey: deps.signingKey,
      customRoles: deps.customRoles,
      now: () => new Date(nowMs),
    });
  } catch (err) {
    if (err instanceof TokenRequestError) {
      // The request is fine; the token (an unknown role, say) may not have a session.
      throw new ApiError(
        'forbidden',
        `no console session can be made for this token: ${err.message}`,
      );
    }
    throw err;
  }
}

function whoAmI(user: AuthUser): WhoAmI {
  return {
    subject: user.subject,
    roles: user.roles,
    permissions: user.permissions,
    expires_at: new Date(user.expiresAt * 1000).toISOString(),
  };
}

/** The caller, as the auth hook left it on an `authenticated` route. */
function caller(user: AuthUser | undefined): AuthUser {
  if (!user)
    throw new ApiError('unauthenticated', 'no token: send "Authorization: Bearer <token>"');
  return user;
}

export function registerSessionRoutes(app: FastifyInstance, deps: SessionDeps): void {
  app.get(
    '/auth/me',
    {
      config: { permission: 'authenticated' },
      schema: {
        summary: 'The token presented: subject, roles, effective permissions, expiry',
        response: { 200: WhoAmI },
      },
    },
    async (req) => whoAmI(caller(req.user)),
  );

  app.post(
    '/auth/login-code',
    {
      config: { permission: 'authenticated' },
      schema: {
        summary: 'A one-time code that signs the web console in as this token’s user',
        description: `Open \`/ui/#login=<code>\` within ${LOGIN_CODE_TTL_MS / 60_000} minutes; the console trades the code once (POST /auth/session) for a session token with the same subject and roles, valid ${SESSION_TTL_S / 3600} hours at most and never beyond this token. \`osapi ui\` prints such a link.`,
        response: { 201: LoginCode },
      },
    },
    async (req, reply) => {
      const user = caller(req.user);
      const nowMs = deps.clock.now().getTime();
      const lifetimeS = Math.max(
        1,
        Math.min(SESSION_TTL_S, user.expiresAt - Math.floor(nowMs / 1000)),
      );
      const tokenExpiresAtMs = (Math.floor(nowMs / 1000) + lifetimeS) * 1000;
      const grant = {
        subject: user.subject,
        roles: user.roles,
        ...(user.permissionsClaim ? { permissions: user.permissionsClaim } : {}),
        session_expires_at: tokenExpiresAtMs,
      };
      // Made once now, so a token that can have no session is told at once,
      // not when its link is opened.
      await sessionToken(deps, grant, nowMs);
      const issued = await deps.codes.issue(grant);
      if (!issued.ok) {
        const waitS = Math.max(1, Math.ceil(issued.retryAfterMs / 1000));
        reply.header('retry-after', String(waitS));
        throw new ApiError(
          'too_many_login_codes',
          issued.limit === 'user'
            ? `${user.subject} already has ${issued.outstanding} unused login codes, the most one user may have at once; open one of the links, or try again in ${waitS} s when the oldest expires`
            : `${issued.outstanding} login codes wait to be used, the most the API servers keep; try again in ${waitS} s`,
          { limit: issued.limit, retry_after_s: waitS },
        );
      }
      const { code, expiresAtMs } = issued;
      return reply.code(201).send({
        code,
        expires_at: new Date(expiresAtMs).toISOString(),
        session_expires_at: new Date(tokenExpiresAtMs).toISOString(),
      });
    },
  );

  app.post<{ Body: SessionRequestBody }>(
    '/auth/session',
    {
      // Open: the code is the credential. Recorded all the same, so the audit
      // log says who signed in to the console, and from where.
      config: { permission: 'public', auditPublic: true },
      schema: {
        summary: 'Trade a one-time login code for a console session token',
        body: SessionRequest,
        response: { 200: Session },
      },
    },
    async (req) => {
      const grant = await deps.codes.redeem(req.body.code);
      if (!grant) {
        throw new ApiError(
          'unauthenticated',
          'this login code was already used or has expired; run `osapi ui` for a new link, or sign in with a token',
        );
      }
      const token = await sessionToken(deps, grant, deps.clock.now().getTime());
      const user = await verifiedUser(token, deps);
      req.user = user;
      return { token, ...whoAmI(user) };
    },
  );
}
