// `osapi token generate|validate` as child processes, with the signing key
// generated in a temporary state dir, or given by environment.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { childEnv, cleanup, type RunResult, runOsapi, STACK_LINE, tempDir } from './helpers.js';

const ALL_PERMISSIONS = [
  'agent:read',
  'agent:write',
  'node:read',
  'network:read',
  'network:write',
  'file:read',
  'file:write',
  'service:read',
  'service:write',
  'package:read',
  'package:write',
  'user:read',
  'user:write',
  'timezone:read',
  'timezone:write',
  'node:write',
  'power:execute',
  'process:read',
  'process:execute',
  'log:read',
  'certificate:read',
  'certificate:write',
  'cron:read',
  'cron:write',
  'sysctl:read',
  'sysctl:write',
  'ntp:read',
  'ntp:write',
  'docker:read',
  'docker:write',
  'docker:execute',
  'job:read',
  'job:write',
  'health:read',
  'audit:read',
  'command:execute',
];

let stateDir: string;

beforeAll(() => {
  stateDir = tempDir('osapi-cli-token-');
});

afterAll(cleanup, 30_000);

function osapi(args: string[], extraEnv: Record<string, string> = {}): Promise<RunResult> {
  return runOsapi(args, { env: childEnv(stateDir, extraEnv) });
}

function tokenOf(r: RunResult): string {
  const token = /^Token: (\S+)$/m.exec(r.stdout)?.[1];
  if (!token) throw new Error(`no "Token: …" line in:\n${r.stdout}\nstderr: ${r.stderr}`);
  return token;
}

/** `Key: value` lines of `token validate`. */
function fields(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^([A-Za-z][A-Za-z ]*): (.*)$/.exec(line);
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

const split = (v: string | undefined) => (v ?? '').split(/,\s*/).filter(Boolean);

describe('token generate and validate', () => {
  let adminToken = '';
  let permToken = '';

  test('generate prints the token and the subject and roles, never the signing key', async () => {
    const r = await osapi(['token', 'generate', '-r', 'admin', '-u', 'me@example.com']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    adminToken = tokenOf(r);
    expect(adminToken.split('.')).toHaveLength(3);
    expect(r.stdout.split('\n')).toContain('Subject: me@example.com  Roles: admin');
    expect(r.stdout).not.toMatch(/^Permissions:/m);
    const key = readFileSync(join(stateDir, 'signing.key'), 'utf8').trim();
    expect(key).not.toBe('');
    expect(r.stdout + r.stderr).not.toContain(key);
  });

  test('generate with -p prints the permissions too', async () => {
    const r = await osapi([
      'token',
      'generate',
      '-r',
      'admin',
      '-u',
      'me@example.com',
      '-p',
      'command:execute',
    ]);
    expect(r.code).toBe(0);
    permToken = tokenOf(r);
    expect(r.stdout.split('\n')).toContain('Subject: me@example.com  Roles: admin');
    expect(r.stdout.split('\n')).toContain('Permissions: command:execute');
  });

  test('validate prints subject, roles, effective permissions, audience, issued, expires', async () => {
    const before = Date.now();
    const [admin, perm] = await Promise.all([
      osapi(['token', 'validate', '-t', adminToken]),
      osapi(['token', 'validate', '-t', permToken]),
    ]);
    expect(admin.code).toBe(0);
    const f = fields(admin.stdout);
    expect(f.get('Subject')).toBe('me@example.com');
    expect(split(f.get('Roles'))).toEqual(['admin']);
    expect(split(f.get('Effective permissions')).sort()).toEqual([...ALL_PERMISSIONS].sort());
    expect(f.get('Audience')).toBe('osapi');
    const issued = Date.parse(f.get('Issued') ?? '');
    const expires = Date.parse(f.get('Expires') ?? '');
    expect(issued).toBeLessThanOrEqual(before + 1000);
    expect(issued).toBeGreaterThan(before - 120_000);
    // The default lifetime is 90 days.
    expect(expires - issued).toBe(90 * 24 * 3600 * 1000);

    expect(perm.code).toBe(0);
    const g = fields(perm.stdout);
    expect(split(g.get('Permissions'))).toEqual(['command:execute']);
    // The permissions claim replaces the roles' permissions.
    expect(split(g.get('Effective permissions'))).toEqual(['command:execute']);
  });

  test('an unknown role: exit 2 and the list of valid roles', async () => {
    const r = await osapi(['token', 'generate', '-r', 'nope', '-u', 'me@example.com']);
    expect(r.code).toBe(2);
    expect(r.stdout).not.toMatch(/Token:/);
    expect(r.stderr).toContain('nope');
    for (const role of ['admin', 'write', 'read'])
      expect(r.stderr).toMatch(new RegExp(`\\b${role}\\b`));
    expect(r.stderr).not.toContain(STACK_LINE);
  });

  test('validate refuses a garbage token', async () => {
    const r = await osapi(['token', 'validate', '-t', 'not.a.token']);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.stdout).not.toMatch(/Subject:/);
    expect(r.stderr).toMatch(/invalid token/i);
    expect(r.stderr).not.toContain(STACK_LINE);
  });

  test('a token signed with one key is refused when validated with another', async () => {
    const gen = await osapi(['token', 'generate', '-r', 'read', '-u', 'k@example.com'], {
      OSAPI_API_SERVER_SECURITY_SIGNING_KEY: 'k1',
    });
    expect(gen.code).toBe(0);
    const token = tokenOf(gen);
    const [same, other] = await Promise.all([
      osapi(['token', 'validate', '-t', token], { OSAPI_API_SERVER_SECURITY_SIGNING_KEY: 'k1' }),
      osapi(['token', 'validate', '-t', token], { OSAPI_API_SERVER_SECURITY_SIGNING_KEY: 'k2' }),
    ]);
    expect(same.code).toBe(0);
    expect(fields(same.stdout).get('Subject')).toBe('k@example.com');
    expect(other.code).not.toBe(0);
    expect(other.code).not.toBeNull();
    expect(other.stdout).not.toMatch(/Subject:/);
    expect(other.stderr).toMatch(/invalid token/i);
  });
});
