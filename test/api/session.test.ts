// GET /auth/me, and the one-time login code behind `osapi ui`: a code works
// once, turns into a short-lived token of the same user and roles (never
// outliving the token that asked for it), and the sign-in is audited.

import { type KV, Kvm } from '@nats-io/kv';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IssueResult, LoginCodes } from '../../src/api/session/login-codes.js';
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
      permissions: [
        'agent:read',
        'node:read',
        'network:read',
        'file:read',
        'service:read',
        'package:read',
        'user:read',
        'timezone:read',
        'process:read',
        'log:read',
        'certificate:read',
        'cron:read',
        'sysctl:read',
        'ntp:read',
        'docker:read',
        'job:read',
        'health:read',
      ],
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
    expect(issued.code).toMatch(/^[0-9a-f]{32}[A-Za-z0-9_-]{43}$/);
    const codeLeft = Date.parse(issued.expires_at) - Date.now();
    expect(codeLeft).toBeGreaterThan(60_000);
    expect(codeLeft).toBeLessThanOrEqual(120_000);

    const s = await request(sys, 'POST', '/auth/session', { code: issued.code });
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ subject: 'tester@example.com', roles: ['admin'] });
    expect(s.body.token).not.toBe(admin);
    expect(s.body.expires_at).toBe(issued.session_expires_at);
    const claims = decodeJwt(s.body.token);
    // Made when the code is traded, and ending when the code said it would.
    expect((claims.exp ?? 0) * 1000).toBe(Date.parse(issued.session_expires_at));
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBeLessThanOrEqual(SESSION_TTL_S);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBeGreaterThan(SESSION_TTL_S - 60);
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
  let n = 0;
  /** A bucket of its own for each test, on the test system's NATS. */
  const bucket = async () => new Kvm(sys.api.nc).create(`login-codes-test-${++n}`, { history: 1 });
  const codesOn = (b: KV, opts: { max?: number; maxPerUser?: number; now?: () => number } = {}) =>
    new LoginCodes({
      bucket: b,
      secret: 'a secret',
      ttlMs: 100,
      max: opts.max ?? 10,
      maxPerUser: opts.maxPerUser ?? 5,
      now: opts.now ?? (() => 1_000),
    });
  const grant = (subject: string) => ({ subject, roles: ['read'], session_expires_at: 99_000 });
  const issued = (r: IssueResult) => {
    if (!r.ok) throw new Error(`refused: ${r.limit}`);
    return r;
  };

  it('forgets a code after its time', async () => {
    let now = 1_000;
    const codes = codesOn(await bucket(), { now: () => now });
    const a = issued(await codes.issue(grant('a')));
    now += 100;
    expect(await codes.redeem(a.code)).toBeNull();
  });

  it('refuses a user past its limit, and never drops another user’s code', async () => {
    let now = 1_000;
    const codes = codesOn(await bucket(), { maxPerUser: 2, now: () => now });
    const b = issued(await codes.issue(grant('b')));
    now += 10;
    const a1 = issued(await codes.issue(grant('a')));
    issued(await codes.issue(grant('a')));
    for (let i = 0; i < 5; i++) {
      expect(await codes.issue(grant('a'))).toEqual({
        ok: false,
        limit: 'user',
        outstanding: 2,
        retryAfterMs: 100,
      });
    }
    expect(await codes.countOf('a')).toBe(2);
    expect((await codes.redeem(b.code))?.subject).toBe('b');
    // A used code frees its place.
    expect((await codes.redeem(a1.code))?.subject).toBe('a');
    expect(await codes.countOf('a')).toBe(1);
    expect((await codes.issue(grant('a'))).ok).toBe(true);
  });

  it('refuses past the total rather than dropping the oldest', async () => {
    const codes = codesOn(await bucket(), { max: 2 });
    const b = issued(await codes.issue(grant('b')));
    const c = issued(await codes.issue(grant('c')));
    expect(await codes.issue(grant('d'))).toMatchObject({
      ok: false,
      limit: 'total',
      outstanding: 2,
    });
    expect((await codes.redeem(b.code))?.subject).toBe('b');
    expect((await codes.redeem(c.code))?.subject).toBe('c');
    expect(await codes.size()).toBe(0);
  });

  it('keeps a subject named like an Object property apart from the rest', async () => {
    const codes = codesOn(await bucket(), { maxPerUser: 1 });
    for (const subject of ['__proto__', 'constructor', 'toString']) {
      expect((await codes.issue(grant(subject))).ok).toBe(true);
      expect(await codes.issue(grant(subject))).toMatchObject({ ok: false, limit: 'user' });
    }
    expect(await codes.size()).toBe(3);
  });

  it('works once across API servers: of two trades of one code at once, one succeeds', async () => {
    const b = await bucket();
    const [one, other] = [codesOn(b), codesOn(b)];
    for (let i = 0; i < 20; i++) {
      const { code } = issued(await one.issue(grant(`u${i}`)));
      const got = await Promise.all([one.redeem(code), other.redeem(code)]);
      expect(got.filter((g) => g !== null)).toHaveLength(1);
    }
  });

  it('stores neither the code nor a token, and refuses a code of the wrong shape', async () => {
    const b = await bucket();
    const codes = codesOn(b);
    const { code } = issued(await codes.issue(grant('alice@example.com')));
    const stored: string[] = [];
    for await (const k of await b.keys()) stored.push(k, (await b.get(k))?.string() ?? '');
    expect(stored.join(' ')).not.toContain(code);
    expect(stored.join(' ')).not.toContain('token');
    expect(stored[0]).not.toContain('alice');
    for (const bad of ['', 'x', `${code}x`, code.slice(1), `${'g'.repeat(32)}${code.slice(32)}`]) {
      expect(await codes.redeem(bad)).toBeNull();
    }
    expect((await codes.redeem(code))?.subject).toBe('alice@example.com');
  });
});
