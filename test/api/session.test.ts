// GET /auth/me, and the one-time login code behind `osapi ui`: a code works
// once, turns into a short-lived token of the same user and roles (never
// outliving the token that asked for it), and the sign-in is audited.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginCodes } from '../../src/api/session/login-codes.js';
import { MAX_CODES_PER_USER, SESSION_TTL_S } from '../../src/api/session/routes.js';
import { signToken } from '../../src/auth/index.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let admin: string;

beforeAll(async () => {
  sys = await startTestSystem();
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

async function newCode(token: string): Promise<AnyJson> {
  const r = await request(sys, 'POST', '/auth/login-code', undefined, token);
  expect(r.status).toBe(201);
  return r.body;
}

describe('GET /auth/me', () => {
  it('tells a token its subject, roles, effective permissions and expiry', async () => {
    const r = await request(sys, 'GET', '/auth/me', undefined, await sys.token(['read']));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      subject: 'tester@example.com',
      roles: ['read'],
      permissions: ['agent:read', 'node:read', 'network:read', 'job:read', 'health:read'],
      expires_at: expect.any(String),
    });
    expect(Date.parse(r.body.expires_at)).toBeGreaterThan(Date.now());
  });

  it('shows a permissions claim in place of the roles’ permissions', async () => {
    const t = await sys.token(['admin'], ['job:read']);
    const r = await request(sys, 'GET', '/auth/me', undefined, t);
    expect(r.body.permissions).toEqual(['job:read']);
  });

  it('needs a valid token', async () => {
    expect((await request(sys, 'GET', '/auth/me')).status).toBe(401);
    expect((await request(sys, 'GET', '/auth/me', undefined, 'nope')).status).toBe(401);
  });
});

describe('one-time login codes', () => {
  it('trade once for a session token of the same user and roles', async () => {
    const issued = await newCode(admin);
    expect(issued.code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const codeLeft = Date.parse(issued.expires_at) - Date.now();
    expect(codeLeft).toBeGreaterThan(60_000);
    expect(codeLeft).toBeLessThanOrEqual(120_000);

    const s = await request(sys, 'POST', '/auth/session', { code: issued.code });
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ subject: 'tester@example.com', roles: ['admin'] });
    expect(s.body.token).not.toBe(admin);
    expect(s.body.expires_at).toBe(issued.session_expires_at);
    const claims = decodeJwt(s.body.token);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(SESSION_TTL_S);
    const me = await request(sys, 'GET', '/auth/me', undefined, s.body.token);
    expect(me.status).toBe(200);
    expect(me.body.permissions).toContain('command:execute');

    const again = await request(sys, 'POST', '/auth/session', { code: issued.code });
    expect(again.status).toBe(401);
    expect(again.body.error).toMatch(/already used or has expired/);
  });

  it('keep a permissions claim, and never outlive the token that asked', async () => {
    const short = await signToken({
      subject: 'brief@example.com',
      roles: ['admin'],
      permissions: ['agent:read', 'job:read'],
      lifetimeSeconds: 600,
      signingKey: sys.signingKey,
    });
    const s = await request(sys, 'POST', '/auth/session', { code: (await newCode(short)).code });
    expect(s.status).toBe(200);
    expect(s.body.permissions).toEqual(['agent:read', 'job:read']);
    expect(decodeJwt(s.body.token).exp).toBe(decodeJwt(short).exp);
  });

  it('refuse an unknown code with 401 and a bad body with 400 naming the field', async () => {
    const unknown = await request(sys, 'POST', '/auth/session', { code: 'x'.repeat(43) });
    expect(unknown.status).toBe(401);
    const missing = await request(sys, 'POST', '/auth/session', {});
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatch(/code/);
    expect((await request(sys, 'POST', '/auth/login-code')).status).toBe(401);
  });

  it('are audited: who signed in, and a refused code', async () => {
    const { code } = await newCode(await sys.token(['read']));
    expect((await request(sys, 'POST', '/auth/session', { code })).status).toBe(200);
    expect((await request(sys, 'POST', '/auth/session', { code })).status).toBe(401);
    await sys.api.audit.flush();
    const r = await request(sys, 'GET', '/audit?limit=100', undefined, admin);
    const sessions = (r.body.items as AnyJson[]).filter((e) => e.path === '/auth/session');
    expect(sessions.find((e) => e.response_code === 200)).toMatchObject({
      user: 'tester@example.com',
      roles: ['read'],
      method: 'POST',
    });
    expect(sessions.some((e) => e.response_code === 401 && e.user === '')).toBe(true);
    expect(JSON.stringify(r.body)).not.toContain(code);
  });

  it('are limited per user: one user asking 100 times gets 429s and voids no one else’s code', async () => {
    const bob = await signToken({
      subject: 'bob@example.com',
      roles: ['read'],
      signingKey: sys.signingKey,
    });
    const bobs = await newCode(bob);
    const mallory = await signToken({
      subject: 'mallory@example.com',
      roles: ['read'],
      signingKey: sys.signingKey,
    });
    const answers: Array<{ status: number; body: AnyJson; retryAfter: string | null }> = [];
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${sys.url}/auth/login-code`, {
        method: 'POST',
        headers: { authorization: `Bearer ${mallory}` },
      });
      answers.push({
        status: res.status,
        body: await res.json(),
        retryAfter: res.headers.get('retry-after'),
      });
    }
    expect(answers.filter((a) => a.status === 201)).toHaveLength(MAX_CODES_PER_USER);
    const refused = answers.slice(MAX_CODES_PER_USER);
    expect(refused.every((a) => a.status === 429)).toBe(true);
    expect(refused[0]?.body).toMatchObject({ code: 429, reason: 'too_many_login_codes' });
    expect(refused[0]?.body.error).toMatch(/mallory@example\.com already has 5 unused login codes/);
    expect(Number(refused[0]?.retryAfter)).toBeGreaterThan(0);

    // Bob's link still works.
    const s = await request(sys, 'POST', '/auth/session', { code: bobs.code });
    expect(s.status).toBe(200);
    expect(s.body.subject).toBe('bob@example.com');
  });
});

describe('LoginCodes', () => {
  const grant = (subject: string) => ({
    token: `t-${subject}`,
    user: { subject, roles: ['read'], permissions: [], commandPolicy: null, expiresAt: 0 },
  });

  const issued = (r: ReturnType<LoginCodes['issue']>) => {
    if (!r.ok) throw new Error(`refused: ${r.limit}`);
    return r;
  };

  it('forgets a code after its time', () => {
    let now = 1_000;
    const codes = new LoginCodes({ ttlMs: 100, max: 10, maxPerUser: 5, now: () => now });
    const a = issued(codes.issue(grant('a')));
    now += 100;
    expect(codes.redeem(a.code)).toBeNull();
    expect(codes.size).toBe(0);
  });

  it('refuses a user past its limit, and never drops another user’s code', () => {
    let now = 1_000;
    const codes = new LoginCodes({ ttlMs: 100, max: 10, maxPerUser: 2, now: () => now });
    const b = issued(codes.issue(grant('b')));
    now += 10;
    issued(codes.issue(grant('a')));
    issued(codes.issue(grant('a')));
    for (let i = 0; i < 100; i++) {
      expect(codes.issue(grant('a'))).toEqual({
        ok: false,
        limit: 'user',
        outstanding: 2,
        retryAfterMs: 100,
      });
    }
    expect(codes.countOf('a')).toBe(2);
    expect(codes.redeem(b.code)?.token).toBe('t-b');
    // A used or expired code frees its place.
    now += 100;
    expect(codes.countOf('a')).toBe(0);
    expect(codes.issue(grant('a')).ok).toBe(true);
  });

  it('refuses past the total rather than dropping the oldest', () => {
    const codes = new LoginCodes({ ttlMs: 100, max: 2, maxPerUser: 5, now: () => 1_000 });
    const b = issued(codes.issue(grant('b')));
    const c = issued(codes.issue(grant('c')));
    expect(codes.issue(grant('d'))).toMatchObject({ ok: false, limit: 'total', outstanding: 2 });
    expect(codes.redeem(b.code)?.token).toBe('t-b');
    expect(codes.redeem(c.code)?.token).toBe('t-c');
    expect(codes.size).toBe(0);
  });

  it('keeps a subject named like an Object property apart from the rest', () => {
    const codes = new LoginCodes({ ttlMs: 100, max: 10, maxPerUser: 1, now: () => 1_000 });
    for (const subject of ['__proto__', 'constructor', 'toString']) {
      expect(codes.issue(grant(subject)).ok).toBe(true);
      expect(codes.issue(grant(subject))).toMatchObject({ ok: false, limit: 'user' });
    }
    expect(codes.size).toBe(3);
  });
});
