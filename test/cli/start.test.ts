// `osapi start` run as a child process: ready JSON, health endpoints, private
// state files, clean SIGTERM with no nats-server left behind, a second start
// on the same state dir.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  childEnv,
  cleanup,
  isGone,
  processName,
  runOsapi,
  STACK_LINE,
  type StartedOsapi,
  startOsapi,
  stopOsapi,
  tempDir,
  VERSION,
} from './helpers.js';

afterAll(cleanup, 30_000);

const mode = (path: string) => statSync(path).mode & 0o777;

async function execHello(stateDir: string) {
  const r = await runOsapi(
    ['client', 'node', 'command', 'exec', '--command', 'echo', '--args', 'hello,world', '-j'],
    { env: childEnv(stateDir) },
  );
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const body = JSON.parse(r.stdout) as { results: Array<{ stdout: string }> };
  expect(body.results[0]?.stdout).toBe('hello world\n');
}

describe('osapi start as a child process', () => {
  const stateDir = tempDir('osapi-cli-start-');
  let first: StartedOsapi;
  let signingKey = '';

  test('prints the ready JSON within 20 s', async () => {
    first = await startOsapi(stateDir, { readyTimeoutMs: 20_000 });
    expect(first.ready.status).toBe('ready');
    expect(first.ready.api_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.ready.api_url).not.toMatch(/:8080$/);
    expect(first.ready.nats_url).toMatch(/^nats:\/\/.+:\d+$/);
    expect(first.ready.nats_url).not.toMatch(/:4222$/);
    expect(first.ready.hostname).not.toBe('');
    expect(first.ready.version).toBe(VERSION);
  });

  test('GET /health and /health/ready answer 200', async () => {
    const health = await fetch(`${first.ready.api_url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${first.ready.api_url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { status: string }).status).toBe('ready');
  });

  test('keeps signing.key and local-client.json in the state dir with mode 0600', () => {
    const keyPath = join(stateDir, 'signing.key');
    const clientPath = join(stateDir, 'local-client.json');
    expect(mode(keyPath)).toBe(0o600);
    expect(mode(clientPath)).toBe(0o600);
    signingKey = readFileSync(keyPath, 'utf8').trim();
    expect(signingKey.length).toBeGreaterThanOrEqual(32);
    const local = JSON.parse(readFileSync(clientPath, 'utf8')) as { url: string; token: string };
    expect(local.url).toBe(first.ready.api_url);
    expect(local.token.split('.')).toHaveLength(3);
  });

  test('runs nats-server as its child', () => {
    const names = first.childrenAtReady.map(processName);
    expect(names).toContain('nats-server');
  });

  test('SIGTERM: exits 0 within 10 s, leaves no child behind, never printed the key', async () => {
    const children = first.childrenAtReady;
    expect(children.length).toBeGreaterThan(0);
    const exit = await stopOsapi(first, 'SIGTERM', 10_000);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.elapsedMs).toBeLessThan(10_000);
    for (const pid of children) expect({ pid, gone: isGone(pid) }).toEqual({ pid, gone: true });
    const output = first.stdout() + first.stderr();
    expect(signingKey).not.toBe('');
    expect(output).not.toContain(signingKey);
    expect(output).not.toContain(STACK_LINE);
  });

  test('a second start on the same state dir works and the CLI still works', async () => {
    const second = await startOsapi(stateDir);
    expect(second.ready.status).toBe('ready');
    expect(second.ready.api_url).not.toBe(first.ready.api_url);
    // The same key: tokens issued before the restart stay valid.
    expect(readFileSync(join(stateDir, 'signing.key'), 'utf8').trim()).toBe(signingKey);
    const local = JSON.parse(readFileSync(join(stateDir, 'local-client.json'), 'utf8')) as {
      url: string;
    };
    expect(local.url).toBe(second.ready.api_url);
    await execHello(stateDir);
    const children = second.childrenAtReady;
    const exit = await stopOsapi(second);
    expect(exit.code).toBe(0);
    for (const pid of children) expect(isGone(pid)).toBe(true);
    expect(second.stdout() + second.stderr()).not.toContain(signingKey);
  });
});
