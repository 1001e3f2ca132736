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
});
