// SHA-512 crypt made in TypeScript (src/contract/password-hash.ts) against
// what OpenSSL makes of the same password and salt on this machine (which
// reads at most 256 bytes of it) and, for longer ones, what this machine's
// crypt(3) makes (through perl's crypt); the bound on a password's length;
// and the step from a request to the job's data: the password goes, its
// hash comes.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { operationData } from '../../src/contract/operations.js';
import {
  HASHED_PASSWORD_MAX_BYTES,
  hashPassword,
  newSalt,
  PASSWORD_HASH_PATTERN,
  PasswordTooLongError,
  sha512Crypt,
} from '../../src/contract/password-hash.js';
import { hostCrypt } from '../support/host-crypt.js';

const openssl = (password: string, salt: string) =>
  execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: password })
    .toString()
    .trim();

/** What the host's own crypt(3) (libxcrypt) makes of a password and a `$6$...$` setting. */

describe('SHA-512 crypt', () => {
  it.each([
    ['a', 'abcdefghijklmnop'],
    ['hunter2', 'saltsalt'],
    ['correct horse battery staple', '/./.ABCxyz0189..'],
    // Longer than one SHA-512 block, and multi-byte UTF-8.
    ['pässwörd-€-'.repeat(12), 'Zq'],
    ['x'.repeat(64), 'sixtyfour'],
    ['x'.repeat(65), 'sixtyfive'],
    ['with spaces and \t tab', 'tab'],
  ])('matches openssl passwd -6 for %j with salt %s', (password, salt) => {
    expect(sha512Crypt(password, salt)).toBe(openssl(password, salt));
  });

  it('takes rounds as glibc writes them, and cuts a salt to 16 characters', () => {
    expect(sha512Crypt('hello', 'saltstring', 10000)).toBe(
      openssl('hello', 'rounds=10000$saltstring'),
    );
    expect(sha512Crypt('hello', 'abcdefghijklmnopqrst')).toBe(openssl('hello', 'abcdefghijklmnop'));
  });

  it('takes a password up to 511 bytes as the host does, and refuses a longer one before any work', () => {
    expect(HASHED_PASSWORD_MAX_BYTES).toBe(511);
    for (const password of ['x'.repeat(257), 'y'.repeat(511), `${'é'.repeat(255)}z`]) {
      expect(sha512Crypt(password, 'longsalt')).toBe(hostCrypt(password, '$6$longsalt$'));
    }
    // The host's crypt(3) fails for 512 bytes: such a password could never be checked at login.
    expect(hostCrypt('y'.repeat(512), '$6$longsalt$')).toMatch(/^\*/);
    for (const password of ['y'.repeat(512), 'é'.repeat(256), 'z'.repeat(200 * 1024)]) {
      expect(() => sha512Crypt(password, 'longsalt')).toThrow(PasswordTooLongError);
    }
    expect(() => hashPassword('z'.repeat(200 * 1024))).toThrow(/at most 511 bytes/);
  });

  it('makes a new 16-character salt each time, so one password hashes differently', () => {
    const pattern = new RegExp(PASSWORD_HASH_PATTERN);
    const a = hashPassword('same');
    const b = hashPassword('same');
    expect(a).toMatch(pattern);
    expect(b).toMatch(pattern);
    expect(a).not.toBe(b);
    expect(newSalt()).toMatch(/^[./0-9A-Za-z]{16}$/);
    // Each verifies with its own salt, as the host's crypt(3) would.
    const salt = a.split('$')[2] as string;
    expect(sha512Crypt('same', salt)).toBe(a);
    expect(openssl('same', salt)).toBe(a);
  });
});

describe("a password request's job data", () => {
  it('holds the hash and never the password (user.password.set, user.create)', () => {
    const set = operationData('user.password.set', {
      name: 'deploy',
      password: 's3cret-pw',
      max_concurrency: 1,
    }) as Record<string, string>;
    expect(Object.keys(set).sort()).toEqual(['name', 'password_hash']);
    expect(JSON.stringify(set)).not.toContain('s3cret-pw');
    expect(openssl('s3cret-pw', set.password_hash?.split('$')[2] as string)).toBe(
      set.password_hash,
    );

    const created = operationData('user.create', {
      name: 'deploy',
      shell: '/bin/bash',
      password: 's3cret-pw',
    }) as Record<string, unknown>;
    expect(Object.keys(created).sort()).toEqual(['name', 'password_hash', 'shell']);
    expect(JSON.stringify(created)).not.toContain('s3cret-pw');
    expect(operationData('user.create', { name: 'deploy' })).toEqual({ name: 'deploy' });
  });
});
