// api.server.security.cors.allow_origins: a page on a listed origin may call
// the API from a browser (its preflight is answered, its answers carry
// Access-Control-Allow-Origin, refusals included); any other origin gets no
// CORS header and its preflight a 403; never a wildcard, never credentials.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { publishJob } from '../../src/job/store.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';
import { storeFor, waitFor } from './helpers.js';

const CONSOLE = 'https://console.example.com';
const OTHER = 'https://evil.example';

let sys: TestSystem;
let admin: string;

beforeAll(async () => {
  sys = await startTestSystem({
    overrides: { 'api.server.security.cors.allow_origins': [CONSOLE, 'http://localhost:5173'] },
  });
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

function preflight(origin: string, path = '/node/_any/command/exec') {
  return fetch(`${sys.url}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });
}

describe('CORS preflight', () => {
  it('answers a listed origin with that origin, the methods and headers, and no credentials', async () => {
    const r = await preflight(CONSOLE);
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe(CONSOLE);
    expect(r.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(r.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect(r.headers.get('access-control-allow-headers')).toMatch(/content-type/);
    expect(r.headers.get('access-control-allow-credentials')).toBeNull();
    expect(r.headers.get('vary')).toMatch(/Origin/);
  });

  it('refuses any other origin with 403 naming the key, and no CORS header', async () => {
    for (const origin of [OTHER, `${CONSOLE}.evil.example`, 'null', 'http://console.example.com']) {
      const r = await preflight(origin);
      expect(r.status, origin).toBe(403);
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
      const body = (await r.json()) as { reason: string; error: string };
      expect(body.reason).toBe('forbidden');
      expect(body.error).toMatch(/api\.server\.security\.cors\.allow_origins/);
    }
  });

  it('an OPTIONS that is no preflight is an unknown route: a token, then 404', async () => {
    const bare = await fetch(`${sys.url}/job`, { method: 'OPTIONS' });
    expect(bare.status).toBe(401);
    const withToken = await fetch(`${sys.url}/job`, {
      method: 'OPTIONS',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(withToken.status).toBe(404);
  });
});

describe('CORS on answers', () => {
  it('a listed origin may read answers and refusals; another gets no header', async () => {
    const ok = await fetch(`${sys.url}/agent`, {
      headers: { origin: CONSOLE, authorization: `Bearer ${admin}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(CONSOLE);
    expect(ok.headers.get('access-control-expose-headers')).toMatch(/retry-after/);

    const refused = await fetch(`${sys.url}/agent`, { headers: { origin: CONSOLE } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(CONSOLE);

    const other = await fetch(`${sys.url}/agent`, {
      headers: { origin: OTHER, authorization: `Bearer ${admin}` },
    });
    expect(other.status).toBe(200);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('the job stream, answered outside Fastify, carries the header too', async () => {
    const job = await publishJob(await storeFor(sys), {
      type: 'node.hostname.get',
      data: {},
      target: { kind: 'host', hostname: 'nobody-here' },
      createdBy: 'test',
      startWithinMs: 60_000,
    });
    await waitFor('the job in the view', async () => {
      return (await request(sys, 'GET', `/job/${job.id}`, undefined, admin)).status === 200;
    });
    const abort = new AbortController();
    const r = await fetch(`${sys.url}/job/${job.id}/stream`, {
      headers: { origin: CONSOLE, authorization: `Bearer ${admin}` },
      signal: abort.signal,
    });
    try {
      expect(r.status).toBe(200);
      expect(r.headers.get('access-control-allow-origin')).toBe(CONSOLE);
    } finally {
      abort.abort();
    }
  });
});

describe('allow_origins in the config', () => {
  it('takes exact origins only, naming the bad entry', () => {
    const load = (v: string) =>
      loadConfig({ env: { OSAPI_API_SERVER_SECURITY_CORS_ALLOW_ORIGINS: v }, defaultFile: null });
    expect(
      load(`${CONSOLE},http://localhost:5173`).config.api.server.security.cors.allow_origins,
    ).toEqual([CONSOLE, 'http://localhost:5173']);
    for (const [bad, index] of [
      ['*', 0],
      [`${CONSOLE},${CONSOLE}/`, 1],
      ['https://console.example.com:443', 0],
      ['console.example.com', 0],
    ] as const) {
      expect(() => load(bad), bad).toThrow(ConfigError);
      expect(() => load(bad), bad).toThrow(
        new RegExp(`api\\.server\\.security\\.cors\\.allow_origins\\.${index}: expected an origin`),
      );
    }
  });
});
