// Checks issuing and verifying tokens, including the forged and malformed ones an attacker sends.
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TOKEN_LIFETIME_SECONDS,
  parseBearer,
  signToken,
  TokenError,
  type TokenErrorReason,
  TokenRequestError,
  verifyToken,
} from '../../src/auth/index.js';

const KEY = 'test-signing-key-0123456789-abcdefghijklmnopqrstuvwxyz';
const OTHER_KEY = 'another-signing-key-9876543210-zyxwvutsrqponmlkjihgfedcba';
const enc = (s: string) => new TextEncoder().encode(s);
const b64url = (obj: unknown) => Buffer.from(JSON.stringify(obj)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

// A token signed with KEY whose claims are exactly `claims` (for shapes signToken refuses to make).
async function rawToken(
  claims: Record<string, unknown>,
  opts: { alg?: string; key?: string } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: opts.alg ?? 'HS256', typ: 'JWT' })
    .sign(enc(opts.key ?? KEY));
}

function goodClaims(): Record<string, unknown> {
  const iat = nowSeconds();
  return { sub: 'alice', roles: ['read'], iss: 'osapi', aud: 'osapi', iat, exp: iat + 3600 };
}

// Asserts verification fails with a TokenError whose message leaks neither token nor key.
async function refusal(token: string, key = KEY, now?: () => Date): Promise<TokenError> {
  let caught: unknown;
  try {
    await verifyToken(token, key, now);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TokenError);
  const err = caught as TokenError;
  expect(err.message).not.toContain(KEY);
  expect(err.message).not.toContain(OTHER_KEY);
  if (token.length > 0) expect(err.message).not.toContain(token);
  // The signature part alone must not leak either.
  const sig = token.split('.')[2];
  if (sig) expect(err.message).not.toContain(sig);
  return err;
}

async function expectReason(token: string, reason: TokenErrorReason, key = KEY): Promise<void> {
  expect((await refusal(token, key)).reason).toBe(reason);
}

describe('signToken / verifyToken round trip', () => {
  it('carries subject, roles and permissions', async () => {
    const token = await signToken({
      subject: 'alice',
      roles: ['read', 'write'],
      permissions: ['job:read', 'command:execute'],
      signingKey: KEY,
    });
    const claims = await verifyToken(token, KEY);
    expect(claims.sub).toBe('alice');
    expect(claims.roles).toEqual(['read', 'write']);
    expect(claims.permissions).toEqual(['job:read', 'command:execute']);
    expect(claims.iss).toBe('osapi');
    expect(claims.aud).toBe('osapi');
  });

  it('omits permissions when none were asked for', async () => {
    const token = await signToken({ subject: 'bob', roles: ['admin'], signingKey: KEY });
    const claims = await verifyToken(token, KEY);
    expect(claims.permissions).toBeUndefined();
    expect('permissions' in claims).toBe(false);
  });

  it('lives 90 days by default', async () => {
    const token = await signToken({ subject: 'alice', roles: ['read'], signingKey: KEY });
    const claims = await verifyToken(token, KEY);
    expect(claims.exp - claims.iat).toBe(90 * 24 * 60 * 60);
    expect(DEFAULT_TOKEN_LIFETIME_SECONDS).toBe(7_776_000);
    expect(Math.abs(claims.iat - nowSeconds())).toBeLessThanOrEqual(2);
  });

  it('honours lifetimeSeconds and now', async () => {
    const issued = new Date('2030-01-01T00:00:00Z');
    const token = await signToken({
      subject: 'alice',
      roles: ['read'],
      signingKey: KEY,
      lifetimeSeconds: 60,
      now: () => issued,
    });
    const claims = await verifyToken(token, KEY, () => new Date('2030-01-01T00:00:30Z'));
    expect(claims.iat).toBe(issued.getTime() / 1000);
    expect(claims.exp - claims.iat).toBe(60);
  });

  it('accepts a custom role when customRoles names it', async () => {
    const token = await signToken({
      subject: 'carol',
      roles: ['auditor'],
      customRoles: { auditor: { permissions: ['audit:read'] } },
      signingKey: KEY,
    });
    expect((await verifyToken(token, KEY)).roles).toEqual(['auditor']);
  });
});

describe('verifyToken refuses', () => {
  it('a token signed with another key: bad_signature', async () => {
    const forged = await signToken({ subject: 'mallory', roles: ['admin'], signingKey: OTHER_KEY });
    await expectReason(forged, 'bad_signature');
  });

  it('a token whose payload was edited after signing: bad_signature', async () => {
    const token = await signToken({ subject: 'alice', roles: ['read'], signingKey: KEY });
    const [header, , sig] = token.split('.');
    const payload = b64url({ ...goodClaims(), roles: ['admin'] });
    await expectReason(`${header}.${payload}.${sig}`, 'bad_signature');
  });

  it('an alg:none token', async () => {
    const header = b64url({ alg: 'none', typ: 'JWT' });
    const payload = b64url({ ...goodClaims(), roles: ['admin'] });
    for (const token of [`${header}.${payload}.`, `${header}.${payload}`]) {
      const err = await refusal(token);
      expect(['bad_algorithm', 'malformed']).toContain(err.reason);
    }
    // The well-formed (three-part) one is recognised as an algorithm problem specifically.
    expect((await refusal(`${header}.${payload}.`)).reason).toBe('bad_algorithm');
  });

  it('a token signed with HS512 under the same key: bad_algorithm', async () => {
    await expectReason(await rawToken(goodClaims(), { alg: 'HS512' }), 'bad_algorithm');
  });

  it('an expired token: expired', async () => {
    const iat = nowSeconds() - 7200;
    await expectReason(await rawToken({ ...goodClaims(), iat, exp: iat + 3600 }), 'expired');
  });

  it('a token checked after its lifetime (via now): expired', async () => {
    const token = await signToken({
      subject: 'alice',
      roles: ['read'],
      signingKey: KEY,
      lifetimeSeconds: 3600,
    });
    const later = () => new Date(Date.now() + 2 * 3600 * 1000);
    const err = await refusal(token, KEY, later);
    expect(err.reason).toBe('expired');
    // And it was fine before.
    await expect(verifyToken(token, KEY)).resolves.toMatchObject({ sub: 'alice' });
  });

  it('a token with no exp: bad_claims', async () => {
    const { exp: _exp, ...claims } = goodClaims();
    await expectReason(await rawToken(claims), 'bad_claims');
  });

  it('wrong audience / missing audience: wrong_audience', async () => {
    await expectReason(await rawToken({ ...goodClaims(), aud: 'other' }), 'wrong_audience');
    const { aud: _aud, ...claims } = goodClaims();
    await expectReason(await rawToken(claims), 'wrong_audience');
  });

  it('wrong issuer / missing issuer: wrong_issuer', async () => {
    await expectReason(await rawToken({ ...goodClaims(), iss: 'evil' }), 'wrong_issuer');
    const { iss: _iss, ...claims } = goodClaims();
    await expectReason(await rawToken(claims), 'wrong_issuer');
  });

  it('missing, empty or ill-typed roles: bad_claims', async () => {
    const { roles: _roles, ...noRoles } = goodClaims();
    await expectReason(await rawToken(noRoles), 'bad_claims');
    await expectReason(await rawToken({ ...goodClaims(), roles: [] }), 'bad_claims');
    await expectReason(await rawToken({ ...goodClaims(), roles: 'admin' }), 'bad_claims');
    await expectReason(await rawToken({ ...goodClaims(), roles: ['read', 7] }), 'bad_claims');
  });

  it('ill-typed permissions: bad_claims', async () => {
    await expectReason(await rawToken({ ...goodClaims(), permissions: 'job:read' }), 'bad_claims');
    await expectReason(await rawToken({ ...goodClaims(), permissions: null }), 'bad_claims');
    await expectReason(await rawToken({ ...goodClaims(), permissions: [1] }), 'bad_claims');
  });

  it('missing or empty subject: bad_claims', async () => {
    const { sub: _sub, ...noSub } = goodClaims();
    await expectReason(await rawToken(noSub), 'bad_claims');
    await expectReason(await rawToken({ ...goodClaims(), sub: '' }), 'bad_claims');
  });

  it('a token not valid yet (nbf, or iat in the future): not_yet_valid', async () => {
    await expectReason(
      await rawToken({ ...goodClaims(), nbf: nowSeconds() + 3600 }),
      'not_yet_valid',
    );
    const iat = nowSeconds() + 3600;
    await expectReason(await rawToken({ ...goodClaims(), iat, exp: iat + 3600 }), 'not_yet_valid');
  });

  it('dates no Date can hold, before 1970 or not whole seconds: bad_claims or expired, never a throw', async () => {
    const now = nowSeconds();
    for (const odd of [
      { exp: 1e20 },
      { exp: now + 3600.5 },
      { exp: Number.MAX_SAFE_INTEGER },
      { iat: -1e20 },
      { iat: -1 },
      { iat: now - 0.5 },
      { nbf: -1e20 },
      { nbf: now - 10.25 },
    ]) {
      const err = await refusal(await rawToken({ ...goodClaims(), ...odd }));
      expect(err.reason, JSON.stringify(odd)).toBe('bad_claims');
      const claim = Object.keys(odd)[0];
      expect(err.message).toMatch(new RegExp(`"${claim}" claim must be a whole number of seconds`));
    }
    // Long expired, and by a date no Date can print.
    const long = await refusal(await rawToken({ ...goodClaims(), exp: -1e20 }));
    expect(long.reason).toBe('expired');
    expect(long.message).toBe('the token expired');
    // Beyond any Date: `nbf` is not valid yet (jose's check comes first), `iat` is refused.
    await expectReason(await rawToken({ ...goodClaims(), nbf: 1e20 }), 'not_yet_valid');
    await expectReason(await rawToken({ ...goodClaims(), iat: 1e20 }), 'bad_claims');
  });

  it('garbage: malformed', async () => {
    for (const junk of [
      'garbage',
      'a.b.c',
      'x.y',
      '....',
      '%%%.e30.sig',
      `${b64url(['HS256'])}.e30.sig`,
    ]) {
      await expectReason(junk, 'malformed');
    }
  });

  it('a payload that is not a JSON object: malformed', async () => {
    const header = b64url({ alg: 'HS256', typ: 'JWT' });
    const payload = Buffer.from('"just a string"').toString('base64url');
    const { createHmac } = await import('node:crypto');
    const sig = createHmac('sha256', KEY).update(`${header}.${payload}`).digest('base64url');
    await expectReason(`${header}.${payload}.${sig}`, 'malformed');
  });

  it('an empty token: missing', async () => {
    await expectReason('', 'missing');
  });

  it('an empty signing key is a programming error, not a 401', async () => {
    const token = await signToken({ subject: 'alice', roles: ['read'], signingKey: KEY });
    await expect(verifyToken(token, '')).rejects.toThrow(TypeError);
    await expect(verifyToken(token, '')).rejects.not.toBeInstanceOf(TokenError);
  });
});

describe('signToken refuses bad requests', () => {
  async function requestError(p: Promise<unknown>): Promise<TokenRequestError> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokenRequestError);
    return err as TokenRequestError;
  }

  it('an unknown role, listing the valid roles (custom included)', async () => {
    const err = await requestError(
      signToken({
        subject: 'alice',
        roles: ['read', 'superuser'],
        customRoles: { ops: { permissions: ['node:read'] } },
        signingKey: KEY,
      }),
    );
    expect(err.message).toContain('superuser');
    for (const role of ['admin', 'write', 'read', 'ops']) expect(err.message).toContain(role);
  });

  it('a custom role name when customRoles is not given', async () => {
    await requestError(signToken({ subject: 'alice', roles: ['ops'], signingKey: KEY }));
  });

  it('an unknown permission, listing the nine valid ones', async () => {
    const err = await requestError(
      signToken({
        subject: 'alice',
        roles: ['read'],
        permissions: ['job:read', 'root:all'],
        signingKey: KEY,
      }),
    );
    expect(err.message).toContain('root:all');
    for (const p of [
      'agent:read',
      'node:read',
      'network:read',
      'network:write',
      'file:read',
      'file:write',
      'service:read',
      'service:write',
      'package:read',
      'package:write',
      'user:read',
      'user:write',
      'job:read',
      'job:write',
      'health:read',
      'audit:read',
      'command:execute',
    ]) {
      expect(err.message).toContain(p);
    }
  });

  it('an empty subject, empty roles, empty permissions, empty key, bad lifetime', async () => {
    await requestError(signToken({ subject: '', roles: ['read'], signingKey: KEY }));
    await requestError(signToken({ subject: '   ', roles: ['read'], signingKey: KEY }));
    await requestError(signToken({ subject: 'alice', roles: [], signingKey: KEY }));
    await requestError(
      signToken({ subject: 'alice', roles: ['read'], permissions: [], signingKey: KEY }),
    );
    await requestError(signToken({ subject: 'alice', roles: ['read'], signingKey: '' }));
    // 1e13 s: past 9999-12-31, a token verifyToken would refuse.
    for (const lifetimeSeconds of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e13]) {
      await requestError(
        signToken({ subject: 'alice', roles: ['read'], signingKey: KEY, lifetimeSeconds }),
      );
    }
  });

  it('never puts the signing key in the message', async () => {
    const err = await requestError(
      signToken({ subject: 'alice', roles: ['nope'], signingKey: KEY }),
    );
    expect(err.message).not.toContain(KEY);
  });
});

describe('parseBearer', () => {
  it('extracts the token, whatever the case of the scheme', () => {
    expect(parseBearer('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(parseBearer('bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(parseBearer('BEARER   abc.def.ghi  ')).toBe('abc.def.ghi');
  });

  function reasonOf(header: string | undefined): TokenErrorReason | undefined {
    try {
      parseBearer(header);
    } catch (err) {
      expect(err).toBeInstanceOf(TokenError);
      return (err as TokenError).reason;
    }
    return undefined;
  }

  it('missing for an absent or blank header', () => {
    expect(reasonOf(undefined)).toBe('missing');
    expect(reasonOf('')).toBe('missing');
    expect(reasonOf('   ')).toBe('missing');
  });

  it('malformed for another scheme, no token, or extra parts', () => {
    expect(reasonOf('Basic dXNlcjpwYXNz')).toBe('malformed');
    expect(reasonOf('Bearer')).toBe('malformed');
    expect(reasonOf('Bearer ')).toBe('malformed');
    expect(reasonOf('Bearer a b')).toBe('malformed');
    expect(reasonOf('Bearerabc.def.ghi')).toBe('malformed');
  });

  it('does not echo the header in its message', () => {
    try {
      parseBearer('Basic c2VjcmV0LXBhc3N3b3Jk');
    } catch (err) {
      expect((err as Error).message).not.toContain('c2VjcmV0LXBhc3N3b3Jk');
    }
  });
});
