// The web console's files at /ui/: open (a browser loads the page before it
// has a token), read once from the built directory, with a policy that keeps
// the page to its own script and this API; off with api.server.ui.enabled.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startTestSystem, type TestSystem } from '../support/system.js';

let dir: string;
let sys: TestSystem;
let admin: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'osapi-console-'));
  const built = join(dir, 'built');
  mkdirSync(built);
  writeFileSync(
    join(built, 'index.html'),
    '<!doctype html><script src="app-ABCD2345.js"></script>',
  );
  writeFileSync(join(built, 'app-ABCD2345.js'), 'console.log("hi")');
  writeFileSync(join(built, 'notes.txt'), 'not a console file type');
  sys = await startTestSystem({ consoleDir: built });
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /ui/', () => {
  it('serves the page without a token, with a policy keeping it to its own origin', async () => {
    const res = await fetch(`${sys.url}/ui/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toContain('app-ABCD2345.js');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-cache');
  });

  it('serves hashed assets for good, answers 304 to a known ETag, and 404 to anything else', async () => {
    const js = await fetch(`${sys.url}/ui/app-ABCD2345.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    const etag = js.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await fetch(`${sys.url}/ui/app-ABCD2345.js`, {
      headers: { 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
    for (const path of ['/ui/nope.js', '/ui/notes.txt', '/ui/a/b.js']) {
      const r = await fetch(`${sys.url}${path}`);
      expect(r.status, path).toBe(404);
    }
    // Straight to the server, as a client that does not tidy its paths would send it.
    for (const url of ['/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/..%2fpackage.json']) {
      const r = await sys.api.app.inject({ method: 'GET', url });
      expect(r.statusCode, url).not.toBe(200);
      expect(r.body, url).not.toContain('"name"');
    }
  });

  it('sends /ui to /ui/, and HEAD answers like GET', async () => {
    const r = await fetch(`${sys.url}/ui`, { redirect: 'manual' });
    expect(r.status).toBe(308);
    expect(r.headers.get('location')).toBe('/ui/');
    expect((await fetch(`${sys.url}/ui/`, { method: 'HEAD' })).status).toBe(200);
  });

  it('is neither in the OpenAPI document nor in the audit log', async () => {
    const doc = await request(sys, 'GET', '/openapi.json');
    expect(Object.keys(doc.body.paths).filter((p) => p.startsWith('/ui'))).toEqual([]);
    await fetch(`${sys.url}/ui/`);
    await sys.api.audit.flush();
    const audit = await request(sys, 'GET', '/audit?limit=100', undefined, admin);
    expect(audit.body.items.filter((e: { path: string }) => e.path.startsWith('/ui'))).toEqual([]);
  });
});

describe('the console, not built or turned off', () => {
  it('answers 503 saying how to build it when its files are missing', async () => {
    const bare = await startTestSystem({ consoleDir: join(dir, 'missing') });
    try {
      const r = await fetch(`${bare.url}/ui/`);
      expect(r.status).toBe(503);
      expect(await r.text()).toMatch(/not built.*scripts\/setup\.mjs/);
    } finally {
      await bare.stop();
    }
  });

  it('is not there at all with api.server.ui.enabled: false', async () => {
    const off = await startTestSystem({
      consoleDir: join(dir, 'built'),
      overrides: { 'api.server.ui.enabled': false },
    });
    try {
      expect((await fetch(`${off.url}/ui/`)).status).toBe(401);
      const r = await request(off, 'GET', '/ui/', undefined, await off.token());
      expect(r.status).toBe(404);
    } finally {
      await off.stop();
    }
  });
});
