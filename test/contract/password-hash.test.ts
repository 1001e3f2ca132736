// SHA-512 crypt made in TypeScript (src/contract/password-hash.ts) against
// what OpenSSL makes of the same password and salt on this machine, and the
// step from a request to the job's data: the password goes, its hash comes.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { operationData } from '../../src/contract/operations.js';
import {
  hashPassword,
  newSalt,
  PASSWORD_HASH_PATTERN,
  sha512Crypt,
} from '../../src/contract/password-hash.js';

const openssl = (password: string, salt: string) =>
  execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: password })
    .toString()
    .trim();

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
