// The job-signing key file: whoever reads it can sign jobs every agent runs,
// so it is made readable by the API's user only, and refused at start when
// group or others can read it (as the HS256 key is: test/auth/signing-key.test.ts).
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobKeyError, loadOrCreateSigningKeys, publicPathFor } from '../../src/job/signing.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'osapi-job-key-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('loadOrCreateSigningKeys', () => {
  it('creates the private key 0600 in a new 0700 directory, the public one beside it', () => {
    const path = join(dir, 'state', 'job-signing.key');
    const key = loadOrCreateSigningKeys(path);
    expect(key.asymmetricKeyType).toBe('ed25519');
    expect(modeOf(path)).toBe(0o600);
    expect(modeOf(join(dir, 'state'))).toBe(0o700);
    expect(modeOf(publicPathFor(path))).toBe(0o644);
    // The same key on the next start.
    const again = loadOrCreateSigningKeys(path);
    expect(again.export({ type: 'pkcs8', format: 'pem' })).toEqual(
      key.export({ type: 'pkcs8', format: 'pem' }),
    );
  });

  it.each([0o640, 0o604, 0o644])(
    'refuses a key of mode %o, saying what to run, never the key',
    (mode) => {
      const path = join(dir, 'job-signing.key');
      loadOrCreateSigningKeys(path);
      const pem = readFileSync(path, 'utf8');
      chmodSync(path, mode);
      let err: unknown;
      try {
        loadOrCreateSigningKeys(path);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(JobKeyError);
      const message = (err as Error).message;
      expect(message).toBe(
        `${path} is accessible by group or others (mode 0${mode.toString(8)}); run: chmod 600 ${path}`,
      );
      expect(message).not.toContain(pem.split('\n')[1]);
      // Refusing leaves the operator's key as it was.
      expect(readFileSync(path, 'utf8')).toBe(pem);
    },
  );
});
