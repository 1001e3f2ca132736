// Checks the signing key file: created private, reused, and refused when others can read it.
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKey, SigningKeyError } from '../../src/auth/index.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'osapi-auth-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadOrCreateSigningKey', () => {
  it('creates a 0600 file in a new 0700 directory with a 48-byte base64url key', async () => {
    const path = join(dir, 'nested', 'signing.key');
    const key = await loadOrCreateSigningKey(path);
    expect(key).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(Buffer.from(key, 'base64url')).toHaveLength(48);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'nested'))).mode & 0o777).toBe(0o700);
    expect((await readFile(path, 'utf8')).trim()).toBe(key);
  });

  it('returns the same key on a second call', async () => {
    const path = join(dir, 'signing.key');
    const first = await loadOrCreateSigningKey(path);
    const second = await loadOrCreateSigningKey(path);
    expect(second).toBe(first);
  });

  it('makes a different key for a different file', async () => {
    const a = await loadOrCreateSigningKey(join(dir, 'a.key'));
    const b = await loadOrCreateSigningKey(join(dir, 'b.key'));
    expect(a).not.toBe(b);
  });

  it('reads an existing key, trimmed', async () => {
    const path = join(dir, 'signing.key');
    await writeFile(path, '  operator-provided-key\n', { mode: 0o600 });
    expect(await loadOrCreateSigningKey(path)).toBe('operator-provided-key');
  });

  it('refuses a 0644 file, saying to chmod 600, without the key in the message', async () => {
    const path = join(dir, 'signing.key');
    await writeFile(path, 'secret-key-material\n', { mode: 0o600 });
    await chmod(path, 0o644);
    const err = await loadOrCreateSigningKey(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SigningKeyError);
    const message = (err as Error).message;
    expect(message).toContain(`chmod 600 ${path}`);
    expect(message).not.toContain('secret-key-material');
    // The file is left as it was: refusing must not rewrite the operator's key.
    expect(await readFile(path, 'utf8')).toBe('secret-key-material\n');
  });

  it('refuses a group-readable file too', async () => {
    const path = join(dir, 'signing.key');
    await writeFile(path, 'k', { mode: 0o600 });
    await chmod(path, 0o640);
    await expect(loadOrCreateSigningKey(path)).rejects.toThrow(/chmod 600/);
  });

  it('refuses an empty file rather than replacing it', async () => {
    const path = join(dir, 'signing.key');
    await writeFile(path, '\n', { mode: 0o600 });
    await expect(loadOrCreateSigningKey(path)).rejects.toThrow(SigningKeyError);
  });

  it('gives every concurrent caller the same key', async () => {
    const path = join(dir, 'race', 'signing.key');
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateSigningKey(path)));
    expect(new Set(keys).size).toBe(1);
    expect((await readFile(path, 'utf8')).trim()).toBe(keys[0]);
  });

  it('refuses a path that is a directory', async () => {
    await expect(loadOrCreateSigningKey(dir)).rejects.toThrow(/not a regular file/);
  });

  it('wraps a filesystem failure, keeping the cause', async () => {
    // A regular file where the key's parent directory should be.
    const blocker = join(dir, 'blocker');
    await writeFile(blocker, '');
    const err = await loadOrCreateSigningKey(join(blocker, 'signing.key')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SigningKeyError);
    expect((err as Error).cause).toMatchObject({ code: 'ENOTDIR' });
  });
});
