// Validly signed tokens with odd claims: roles named like Object's members
// (`__proto__`, `constructor`, `toString`, `hasOwnProperty`) and dates no Date
// holds or prints (`exp: 1e20`, a negative or fractional `iat`, `nbf`). Each
// gave a 500 on every route; each is a 401 or a 403 (or, on the routes any
// valid token may call, an answer), never a 500.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;

beforeAll(async () => {
  sys = await startTestSystem();
});
afterAll(async () => {
  await sys?.stop();
});

/** A token signed with the server's key whose claims are exactly these. */
function signed(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(sys.signingKey));
}

function claims(over: Record<string, unknown>): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: 'odd@example.com',
    roles: ['admin'],
    iss: 'osapi',
    aud: 'osapi',
    iat: now,
    exp: now + 3600,
    ...over,
  };
}

const ROUTES: Array<[string, string, unknown?]> = [
  ['GET', '/auth/me'],
  ['POST', '/auth/login-code'],
  ['GET', '/agent'],
  ['GET', '/job'],
  ['GET', '/audit'],
  ['POST', '/node/_any/command/exec', { command: 'true' }],
  ['GET', '/no/such/route'],
];

async function answers(
  token: string,
): Promise<Array<{ route: string; status: number; body: AnyJson }>> {
  const out = [];
  for (const [method, path, body] of ROUTES) {
    const r = await request(sys, method, path, body, token);
    out.push({ route: `${method} ${path}`, status: r.status, body: r.body });
  }
  return out;
}

describe('a role named like a member of Object', () => {
  for (const role of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    it(`${role}: grants nothing, 403 where a permission is needed, never 500`, async () => {
      const token = await signed(claims({ roles: [role] }));
      for (const a of await answers(token)) {
        expect(a.status, a.route).not.toBe(500);
        if (a.route === 'GET /auth/me') {
          expect(a.status).toBe(200);
          expect(a.body.permissions).toEqual([]);
        } else if (a.route === 'GET /no/such/route') {
          expect(a.status).toBe(404);
        } else {
          expect(a.status, a.route).toBe(403);
        }
      }
      // Beside a real role it takes nothing away, and adds nothing.
      const mixed = await signed(claims({ roles: [role, 'read'] }));
      expect((await request(sys, 'GET', '/agent', undefined, mixed)).status).toBe(200);
      expect((await request(sys, 'GET', '/audit', undefined, mixed)).status).toBe(403);
    });
  }
});

describe('dates no Date holds', () => {
  const now = Math.floor(Date.now() / 1000);
  const cases: Array<[string, Record<string, unknown>]> = [
    ['exp: 1e20', { exp: 1e20 }],
    ['exp: -1e20', { exp: -1e20 }],
    ['exp: not whole', { exp: now + 3600.5 }],
    ['iat: -1e20', { iat: -1e20 }],
    ['iat: 1e20', { iat: 1e20 }],
    ['iat: not whole', { iat: now - 0.5 }],
    ['nbf: -1e20', { nbf: -1e20 }],
    ['nbf: 1e20', { nbf: 1e20 }],
  ];
  for (const [name, over] of cases) {
    it(`${name}: 401 with a message naming the claim or the expiry, never 500`, async () => {
      const token = await signed(claims(over));
      for (const a of await answers(token)) {
        expect(a.status, a.route).toBe(401);
        expect(a.body.reason).toBe('unauthenticated');
        expect(a.body.error).toMatch(/"(exp|iat|nbf)" claim|expired|not valid yet/);
      }
    });
  }
});
