// GET /auth/me, and the one-time login code behind `osapi ui`: a code works
// once, turns into a short-lived token of the same user and roles (never
// outliving the token that asked for it), and the sign-in is audited.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginCodes } from '../../src/api/session/login-codes.js';
import { SESSION_TTL_S } from '../../src/api/session/routes.js';
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
});

describe('LoginCodes', () => {
  const grant = (subject: string) => ({
    token: `t-${subject}`,
    user: { subject, roles: ['read'], permissions: [], commandPolicy: null, expiresAt: 0 },
  });

  it('forgets a code after its time, and keeps at most `max`, dropping the oldest', () => {
    let now = 1_000;
    const codes = new LoginCodes({ ttlMs: 100, max: 2, now: () => now });
    const a = codes.issue(grant('a'));
    now += 100;
    expect(codes.redeem(a.code)).toBeNull();
    const b = codes.issue(grant('b'));
    const c = codes.issue(grant('c'));
    const d = codes.issue(grant('d'));
    expect(codes.size).toBe(2);
    expect(codes.redeem(b.code)).toBeNull();
    expect(codes.redeem(c.code)?.token).toBe('t-c');
    expect(codes.redeem(d.code)?.token).toBe('t-d');
    expect(codes.size).toBe(0);
  });
});
