import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { childEnv, cleanup, runOsapi, tempDir } from './helpers.js';

afterAll(cleanup, 30_000);

describe('a config file holding secrets', () => {
  test('readable by others: a warning at start that says how to fix it, never the secret', async () => {
    const dir = tempDir();
    const file = join(dir, 'osapi.yaml');
    writeFileSync(file, 'api:\n  server:\n    security:\n      signing_key: s3cret-key-value\n');
    chmodSync(file, 0o644);
    const open = await runOsapi(['-f', file, 'token', 'generate', '-r', 'read', '-u', 'a@b'], {
      env: childEnv(dir),
    });
    expect(open.code).toBe(0);
    expect(open.stderr).toMatch(
      new RegExp(`holds secrets and is readable by other users; run: chmod 600 ${file}`),
    );
    expect(open.stderr + open.stdout).not.toContain('s3cret-key-value');

    chmodSync(file, 0o600);
    const closed = await runOsapi(['-f', file, 'token', 'generate', '-r', 'read', '-u', 'a@b'], {
      env: childEnv(dir),
    });
    expect(closed.code).toBe(0);
    expect(closed.stderr).not.toMatch(/readable by other users/);
  });

  test('no warning for secrets given by environment variables: they are not in the file', async () => {
    const dir = tempDir();
    const file = join(dir, 'osapi.yaml');
    writeFileSync(file, 'api:\n  server:\n    port: 8081\n');
    chmodSync(file, 0o644);
    const env = childEnv(dir, {
      OSAPI_API_SERVER_SECURITY_SIGNING_KEY: 'env-only-signing-key',
      OSAPI_API_SERVER_NATS_AUTH_PASSWORD: 'env-only-password',
    });
    const r = await runOsapi(['-f', file, 'token', 'generate', '-r', 'read', '-u', 'a@b'], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/readable by other users/);
    expect(r.stderr + r.stdout).not.toContain('env-only');

    // The file's own secret still counts when env sets the key too: it is on disk all the same.
    writeFileSync(file, 'api:\n  server:\n    security:\n      signing_key: on-disk-key\n');
    const both = await runOsapi(['-f', file, 'token', 'generate', '-r', 'read', '-u', 'a@b'], {
      env,
    });
    expect(both.code).toBe(0);
    expect(both.stderr).toMatch(/holds secrets and is readable by other users/);
    expect(both.stderr).not.toMatch(/on-disk-key|env-only/);
  });
});
