// Authentication and permissions on the command routes, the open health
// routes, and unknown paths: 401 for no or bad token, 403 for a valid token
// without command:execute, and `code` equal to the HTTP status everywhere.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/index.js';
import { post, request, startTestSystem, type TestSystem } from '../support/system.js';
import { type TempDir, tempDir } from './helpers.js';

let sys: TestSystem;
let dir: TempDir;

beforeAll(async () => {
  sys = await startTestSystem();
  await sys.startAgent('auth-01');
  await sys.waitForAgents(['auth-01']);
  dir = tempDir('auth');
});
afterAll(async () => {
  await sys?.stop();
  dir?.remove();
});

const KINDS = ['exec', 'shell'] as const;
const body = (kind: (typeof KINDS)[number], file: string) =>
  kind === 'exec'
    ? { command: 'touch', args: [file], timeout: 5 }
    : { command: `touch ${file}`, timeout: 5 };

function expectError(r: Awaited<ReturnType<typeof post>>, status: number, reason: string) {
  expect(r.status).toBe(status);
  expect(r.body).toMatchObject({ code: status, reason });
  expect(typeof r.body.error).toBe('string');
}

describe('401 without a valid token, and nothing runs', () => {
  const bad: Array<[string, () => Promise<string | undefined>]> = [
    ['no token', async () => undefined],
    ['a garbage token', async () => 'not.a.jwt'],
    ['a random string', async () => 'hello'],
    [
      'a token signed with another key',
      () => signToken({ subject: 'eve', roles: ['admin'], signingKey: 'another-key' }),
    ],
    [
      'an expired token',
      () =>
        signToken({
          subject: 'tester',
          roles: ['admin'],
          signingKey: sys.signingKey,
          lifetimeSeconds: 60,
          now: () => new Date(Date.now() - 3600_000),
        }),
    ],
  ];
  for (const kind of KINDS) {
    it.each(bad)(`${kind} with %s → 401`, async (name, make) => {
      const file = join(dir.path, `${kind}-${name.replaceAll(' ', '-')}`);
      const r = await post(sys, `/node/_any/command/${kind}`, body(kind, file), await make());
      expectError(r, 401, 'unauthenticated');
      expect(existsSync(file)).toBe(false);
    });
  }

  it('a Basic authorization header → 401', async () => {
    const r = await request(sys, 'POST', '/node/_any/command/shell', { command: 'true' }, '', {
      authorization: 'Basic dXNlcjpwYXNz',
    });
    expectError(r, 401, 'unauthenticated');
  });

  it('the expired token says it expired', async () => {
    const t = await signToken({
      subject: 'tester',
      roles: ['admin'],
      signingKey: sys.signingKey,
      lifetimeSeconds: 60,
      now: () => new Date(Date.now() - 3600_000),
    });
    const r = await post(sys, '/node/_any/command/shell', { command: 'true' }, t);
    expect(r.status).toBe(401);
    expect(r.body.error).toMatch(/expired/i);
  });
});

describe('403 for a valid token without command:execute', () => {
  for (const kind of KINDS) {
    for (const role of ['read', 'write']) {
      it(`${kind} with role ${role} → 403 naming command:execute, and nothing runs`, async () => {
        const file = join(dir.path, `${kind}-${role}`);
        const r = await post(
          sys,
          `/node/_any/command/${kind}`,
          body(kind, file),
          await sys.token([role]),
        );
        expectError(r, 403, 'forbidden');
        expect(r.body.error).toContain('command:execute');
        expect(r.body.missing_permission).toBe('command:execute');
        expect(r.body.details).toBe('missing_permission: command:execute');
        expect(existsSync(file)).toBe(false);
      });
    }
  }

  it('a permissions claim without command:execute replaces the admin role → 403', async () => {
    const t = await sys.token(['admin'], ['job:read']);
    const r = await post(sys, '/node/_any/command/shell', { command: 'true' }, t);
    expectError(r, 403, 'forbidden');
    expect(r.body.error).toContain('command:execute');
  });

  it('authentication comes before validation: an invalid body with a read token is 403', async () => {
    const r = await post(sys, '/node/_any/command/exec', { nope: 1 }, await sys.token(['read']));
    expectError(r, 403, 'forbidden');
  });
});

describe('202 with command:execute', () => {
  for (const kind of KINDS) {
    it(`${kind}: role read plus permissions [command:execute] → 202`, async () => {
      const file = join(dir.path, `${kind}-granted`);
      const t = await sys.token(['read'], ['command:execute']);
      const r = await post(sys, `/node/_any/command/${kind}`, body(kind, file), t);
      expect(r.status).toBe(202);
      expect(r.body.results).toHaveLength(1);
      expect(r.body.results[0]).toMatchObject({ hostname: 'auth-01', exit_code: 0 });
      expect(existsSync(file)).toBe(true);
    });

    it(`${kind}: role admin → 202`, async () => {
      const file = join(dir.path, `${kind}-admin`);
      const r = await post(sys, `/node/_any/command/${kind}`, body(kind, file), await sys.token());
      expect(r.status).toBe(202);
      expect(existsSync(file)).toBe(true);
    });
  }
});

describe('open and unknown paths', () => {
  it('GET /health needs no token', async () => {
    const r = await request(sys, 'GET', '/health');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok' });
  });

  it('GET /health/ready needs no token', async () => {
    const r = await request(sys, 'GET', '/health/ready');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ready' });
  });

  it('an unknown path without a token → 401', async () => {
    const r = await request(sys, 'GET', '/no/such/path');
    expectError(r, 401, 'unauthenticated');
  });

  it('an unknown path with a bad token → 401', async () => {
    const r = await request(sys, 'GET', '/no/such/path', undefined, 'garbage');
    expectError(r, 401, 'unauthenticated');
  });

  it('an unknown path with a token → 404', async () => {
    const r = await request(sys, 'GET', '/no/such/path', undefined, await sys.token(['read']));
    expectError(r, 404, 'not_found');
  });

  it('a known path with the wrong method, with a token → 404', async () => {
    const r = await request(sys, 'GET', '/node/_any/command/exec', undefined, await sys.token());
    expectError(r, 404, 'not_found');
  });
});
