// `osapi ui`: with the local client file `osapi start` leaves (the quick
// start), it prints a link whose fragment holds a one-time code, never the
// token; the code signs in once. It says why when the API has no console.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginLink } from '../../src/cli/commands/ui.js';
import { writeLocalClient } from '../../src/state/local.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';
import { childEnv, cleanup, runOsapi, tempDir } from './helpers.js';

let sys: TestSystem;
let admin: string;
let stateDir: string;

beforeAll(async () => {
  const dir = tempDir('osapi-ui-cli-');
  sys = await startTestSystem({ consoleDir: join(dir, 'missing') });
  admin = await sys.token();
  stateDir = join(dir, 'state');
  writeLocalClient(stateDir, { url: sys.url, token: admin });
});
afterAll(async () => {
  await sys?.stop();
  await cleanup();
});

describe('osapi ui', () => {
  it('says the console is not built, and makes no code, when the server has none', async () => {
    const r = await runOsapi(['ui'], { env: childEnv(stateDir), timeoutMs: 15_000 });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/has no console built: run `node scripts\/setup\.mjs` there/);
  });

  it('says the console is off when the server does not serve it', async () => {
    const off = await startTestSystem({ overrides: { 'api.server.ui.enabled': false } });
    try {
      const r = await runOsapi(['ui', '--url', off.url], {
        env: childEnv(stateDir, { OSAPI_API_CLIENT_SECURITY_BEARER_TOKEN: await off.token() }),
        timeoutMs: 15_000,
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /does not serve the web console \(HTTP 404\).*api\.server\.ui\.enabled/,
      );
    } finally {
      await off.stop();
    }
  });

  it('prints a link with a one-time code that signs in as the local user, once', async () => {
    // A console to serve, so the command goes on to make a code.
    const built = tempDir('osapi-ui-built-');
    writeFileSync(join(built, 'index.html'), '<!doctype html>');
    const withConsole = await startTestSystem({ consoleDir: built });
    try {
      const local = join(tempDir('osapi-ui-cli-'), 'state');
      writeLocalClient(local, { url: withConsole.url, token: await withConsole.token() });
      const r = await runOsapi(['ui', '-j'], { env: childEnv(local), timeoutMs: 15_000 });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      const m = /^http:\/\/127\.0\.0\.1:\d+\/ui\/#login=([0-9a-f]{32}[A-Za-z0-9_-]{43})$/.exec(
        out.url,
      );
      expect(m).not.toBeNull();
      expect(Date.parse(out.expires_at)).toBeGreaterThan(Date.now());
      const code = m?.[1] ?? '';
      const first = await request(withConsole, 'POST', '/auth/session', { code });
      expect(first.status).toBe(200);
      expect(first.body.subject).toBe('tester@example.com');
      expect((await request(withConsole, 'POST', '/auth/session', { code })).status).toBe(401);
    } finally {
      await withConsole.stop();
    }
  });
});

describe('loginLink', () => {
  it('puts the code in the fragment and a wildcard address on loopback', () => {
    expect(loginLink('http://0.0.0.0:8080', 'abc')).toBe('http://127.0.0.1:8080/ui/#login=abc');
    expect(loginLink('http://[::]:8080/', 'abc')).toBe('http://[::1]:8080/ui/#login=abc');
    expect(loginLink('https://osapi.example.com/', 'abc')).toBe(
      'https://osapi.example.com/ui/#login=abc',
    );
  });
});
