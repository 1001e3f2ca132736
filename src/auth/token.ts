// Issues and checks OSAPI's JWTs (HS256 with a shared signing key) and pulls the token out of an
// Authorization header. Every refusal is a TokenError with a closed `reason` the server maps to 401.
import { errors, jwtVerify, SignJWT } from 'jose';
import { type CustomRoles, isPermission, PERMISSIONS, roleNames } from '../contract/permissions.js';

const ISSUER = 'osapi';
const AUDIENCE = 'osapi';
// Pinned: accepting whatever `alg` the token names is how `none` and key-confusion attacks work.
const ALGORITHM = 'HS256';
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 90 * 24 * 60 * 60;
// The CLI that mints a token and the server that checks it may run on hosts whose clocks differ.
const CLOCK_TOLERANCE_SECONDS = 30;
/**
 * The latest time a token may name, 9999-12-31T23:59:59Z: far inside what a
 * Date holds and prints (an `exp` of 1e20 made every answer that shows the
 * expiry throw), and in 4 digits of year as ISO 8601 writes them.
 */
const MAX_NUMERIC_DATE = 253_402_300_799;

/** A whole number of seconds since 1970, no later than MAX_NUMERIC_DATE; as this module signs them. */
function isNumericDate(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_NUMERIC_DATE;
}

export type TokenErrorReason =
  | 'missing'
  | 'malformed'
  | 'bad_signature'
  | 'expired'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'bad_algorithm'
  | 'bad_claims'
  | 'not_yet_valid';

/** A presented token was absent or refused. The message never quotes the token or the key. */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly reason: TokenErrorReason;

  constructor(reason: TokenErrorReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** A request to issue a token was invalid (unknown role, empty subject...). */
export class TokenRequestError extends Error {
  override readonly name = 'TokenRequestError';
}

export interface TokenClaims {
  sub: string;
  roles: string[];
  permissions?: string[];
  iss: string;
  aud: string;
  iat: number;
  exp: number;
}

export interface SignTokenOptions {
  subject: string;
  roles: string[];
  permissions?: string[];
  lifetimeSeconds?: number;
  signingKey: string;
  /** Roles from config; names here are valid in addition to the built-ins. */
  customRoles?: CustomRoles;
  now?: () => Date;
}

function keyBytes(signingKey: string): Uint8Array {
  return new TextEncoder().encode(signingKey);
}

export async function signToken(opts: SignTokenOptions): Promise<string> {
  const {
    subject,
    roles,
    permissions,
    signingKey,
    customRoles = {},
    now = () => new Date(),
  } = opts;
  const lifetime = opts.lifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS;

  if (typeof signingKey !== 'string' || signingKey.length === 0) {
    throw new TokenRequestError('the signing key is empty');
  }
  if (typeof subject !== 'string' || subject.trim() === '') {
    throw new TokenRequestError('the subject (user) is empty');
  }
  const validRoles = roleNames(customRoles);
  if (!Array.isArray(roles) || roles.length === 0) {
    throw new TokenRequestError(
      `at least one role is required; valid roles: ${validRoles.join(', ')}`,
    );
  }
  const unknownRoles = roles.filter((r) => !validRoles.includes(r));
  if (unknownRoles.length > 0) {
    throw new TokenRequestError(
      `unknown role(s) ${unknownRoles.map((r) => JSON.stringify(r)).join(', ')}; valid roles: ${validRoles.join(', ')}`,
    );
  }
  if (permissions !== undefined) {
    // An empty list would mint a token that can do nothing, which is never what was meant.
    if (!Array.isArray(permissions) || permissions.length === 0) {
      throw new TokenRequestError(
        `permissions, when given, must list at least one of: ${PERMISSIONS.join(', ')} (omit them to use the roles' permissions)`,
      );
    }
    const unknownPermissions = permissions.filter((p) => !isPermission(p));
    if (unknownPermissions.length > 0) {
      throw new TokenRequestError(
        `unknown permission(s) ${unknownPermissions.map((p) => JSON.stringify(p)).join(', ')}; valid permissions: ${PERMISSIONS.join(', ')}`,
      );
    }
  }
  if (!Number.isSafeInteger(lifetime) || lifetime <= 0) {
    throw new TokenRequestError('the token lifetime must be a positive whole number of seconds');
  }

  const iat = Math.floor(now().getTime() / 1000);
  // verifyToken refuses a date past MAX_NUMERIC_DATE: never make a token it would refuse.
  if (!isNumericDate(iat + lifetime)) {
    throw new TokenRequestError('the token lifetime is too long: it would expire after 9999-12-31');
  }
  const payload: { roles: string[]; permissions?: string[] } = { roles: [...new Set(roles)] };
  if (permissions !== undefined) payload.permissions = [...new Set(permissions)];

  return new SignJWT(payload)
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
    .setSubject(subject)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + lifetime)
    .sign(keyBytes(signingKey));
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string' && s !== '');
}

// Translates jose's error classes into our closed set of reasons. Anything that is not a
// JOSEError (a bug, a crypto failure) is not the caller's fault and is rethrown as is.
function fromJose(err: unknown): TokenError {
  const cause = { cause: err };
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return new TokenError(
      'bad_signature',
      'the token signature is not valid for this server',
      cause,
    );
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return new TokenError('bad_algorithm', `the token must be signed with ${ALGORITHM}`, cause);
  }
  // JWTExpired is not a subclass of JWTClaimValidationFailed, so it is tested on its own.
  if (err instanceof errors.JWTExpired) {
    const exp = err.payload.exp;
    // An `exp` of -1e20 is expired too, but no Date can print it.
    const when = isNumericDate(exp) ? ` at ${new Date(exp * 1000).toISOString()}` : '';
    return new TokenError('expired', `the token expired${when}`, cause);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'iss':
        return new TokenError('wrong_issuer', `the token was not issued by ${ISSUER}`, cause);
      case 'aud':
        return new TokenError('wrong_audience', `the token is not meant for ${AUDIENCE}`, cause);
      case 'nbf':
        if (err.reason === 'check_failed') {
          return new TokenError('not_yet_valid', 'the token is not valid yet', cause);
        }
        break;
    }
    // jose's message names the claim and never its value.
    return new TokenError('bad_claims', `the token claims are invalid: ${err.message}`, cause);
  }
  if (err instanceof errors.JOSEError) {
    return new TokenError('malformed', 'the token is not a well-formed JWT', cause);
  }
  throw err;
}

/**
 * Checks signature (HS256 only), issuer, audience, expiry and the shape of the OSAPI claims.
 * Returns the claims; turning them into permissions is effectivePermissions' job.
 */
export async function verifyToken(
  token: string,
  signingKey: string,
  now: () => Date = () => new Date(),
): Promise<TokenClaims> {
  if (typeof signingKey !== 'string' || signingKey.length === 0) {
    // A configuration fault, not a bad token: it must not look like a 401.
    throw new TypeError('verifyToken: the signing key is empty');
  }
  if (typeof token !== 'string' || token.trim() === '') {
    throw new TokenError('missing', 'no token was presented');
  }
  const at = now();
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, keyBytes(signingKey), {
      algorithms: [ALGORITHM],
      issuer: ISSUER,
      audience: AUDIENCE,
      requiredClaims: ['sub', 'iat', 'exp'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: at,
    }));
  } catch (err) {
    throw fromJose(err);
  }

  const { sub, roles, permissions, iat, exp } = payload;
  if (typeof sub !== 'string' || sub === '') {
    throw new TokenError('bad_claims', 'the token "sub" claim must be a non-empty string');
  }
  if (!isStringArray(roles) || roles.length === 0) {
    throw new TokenError(
      'bad_claims',
      'the token "roles" claim must be a non-empty list of role names',
    );
  }
  if (permissions !== undefined && !isStringArray(permissions)) {
    throw new TokenError(
      'bad_claims',
      'the token "permissions" claim must be a list of permission names',
    );
  }
  // jose has checked these are numbers and exp is in the future; a number may still be
  // 1e20, -5 or 1.5, which no date shown from them survives.
  for (const [name, value] of [
    ['iat', iat],
    ['exp', exp],
    ['nbf', payload.nbf],
  ] as const) {
    if (name === 'nbf' && value === undefined) continue;
    if (!isNumericDate(value)) {
      throw new TokenError(
        'bad_claims',
        `the token "${name}" claim must be a whole number of seconds since 1970, no later than 9999-12-31`,
      );
    }
  }
  if (typeof iat !== 'number' || typeof exp !== 'number') {
    throw new TokenError('bad_claims', 'the token "iat" and "exp" claims must be numbers');
  }
  // jose only checks a future iat when maxTokenAge is set; a token from the future is suspect.
  if (iat > at.getTime() / 1000 + CLOCK_TOLERANCE_SECONDS) {
    throw new TokenError('not_yet_valid', 'the token was issued in the future');
  }

  const claims: TokenClaims = { sub, roles, iss: ISSUER, aud: AUDIENCE, iat, exp };
  if (permissions !== undefined) claims.permissions = permissions;
  return claims;
}

/** Extracts the JWT from an `Authorization: Bearer <jwt>` header value. */
export function parseBearer(header: string | undefined): string {
  if (header === undefined || header.trim() === '') {
    throw new TokenError('missing', 'no token: send "Authorization: Bearer <token>"');
  }
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  const token = match?.[1];
  if (token === undefined) {
    throw new TokenError('malformed', 'the Authorization header must be "Bearer <token>"');
  }
  return token;
}
