// `Idempotency-Key` on the command and job routes: the same key (same user,
// within 24 h) returns the first job and never runs the command again; the
// same key with another request is refused; a request refused before it made
// a job leaves the key free. Runs are counted by lines appended to a file.
// A request's secrets (a password) are digested by a keyed hash, and only
// the fields its operation declares secret.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretDigestKey, withSecretsDigested } from '../../src/api/idempotency.js';
import { jobSigner } from '../../src/job/signing.js';
import { type AnyJson, startTestSystem, type TestSystem } from '../support/system.js';
import { type TempDir, tempDir, waitFor } from './helpers.js';

const HOSTS = ['i-01', 'i-02'];

let sys: TestSystem;
let admin: string;
let dir: TempDir;

beforeAll(async () => {
  sys = await startTestSystem();
  for (const h of HOSTS) await sys.startAgent(h, { group: 'idem' });
  await sys.waitForAgents(HOSTS);
  admin = await sys.token();
  dir = tempDir('idem');
});
afterAll(async () => {
  await sys?.stop();
  dir?.remove();
});

interface Answer {
  status: number;
  body: AnyJson;
  replayed: string | null;
}

async function send(
  method: string,
  path: string,
  body: unknown,
  key: string | undefined,
  token = admin,
): Promise<Answer> {
  const res = await fetch(`${sys.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(key !== undefined ? { 'idempotency-key': key } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? JSON.parse(text) : null,
    replayed: res.headers.get('idempotent-replayed'),
  };
}

/** A command that appends one line per run to its own file, and the count of runs. */
function counted(name: string) {
  const file = join(dir.path, name);
  return {
    command: `echo run >> "${file}"; echo ok`,
    runs: () => {
      try {
        return readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
      } catch {
        return 0;
      }
    },
  };
}

describe('command routes', () => {
  it('the same key twice: one run, the same job and results, the second marked replayed', async () => {
    const c = counted('twice');
    const first = await send('POST', '/node/i-01/command/shell', { command: c.command }, 'key-1');
    expect(first.status).toBe(202);
    expect(first.replayed).toBeNull();
    const second = await send('POST', '/node/i-01/command/shell', { command: c.command }, 'key-1');
    expect(second.status).toBe(202);
    expect(second.replayed).toBe('true');
    expect(second.body.job_id).toBe(first.body.job_id);
    expect(second.body.results).toEqual(first.body.results);
    expect(c.runs()).toBe(1);
  });

  it('two requests with the same key at once on a broadcast: one job, each host runs it once', async () => {
    const c = counted('race');
    const body = { command: c.command };
    const [a, b] = await Promise.all([
      send('POST', '/node/_all/command/shell', body, 'key-race'),
      send('POST', '/node/_all/command/shell', body, 'key-race'),
    ]);
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(a.body.job_id).toBe(b.body.job_id);
    expect([a.replayed, b.replayed].filter((x) => x === 'true')).toHaveLength(1);
    expect(b.body.results.map((r: AnyJson) => r.hostname).sort()).toEqual(HOSTS);
    expect(c.runs()).toBe(HOSTS.length);
  });

  it('async: the same key returns the first job id at once; it still ran once', async () => {
    const c = counted('async');
    const path = '/node/_all/command/shell?async=true';
    const first = await send('POST', path, { command: c.command }, 'key-async');
    const second = await send('POST', path, { command: c.command }, 'key-async');
    expect(second.body).toEqual(first.body);
    expect(second.body.expected_hosts).toEqual(HOSTS);
    await waitFor('both hosts to run it', () => c.runs() === HOSTS.length);
    const third = await send('POST', path, { command: c.command }, 'key-async');
    expect(third.body.job_id).toBe(first.body.job_id);
    expect(c.runs()).toBe(HOSTS.length);
  });

  it('the same key with another request is a 422 naming the first job; nothing runs', async () => {
    const c = counted('reused');
    const first = await send('POST', '/node/i-01/command/shell', { command: c.command }, 'key-2');
    const other = await send('POST', '/node/i-01/command/shell', { command: 'true' }, 'key-2');
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ code: 422, reason: 'idempotency_key_reused' });
    expect(other.body.error).toContain(first.body.job_id);
    const elsewhere = await send(
      'POST',
      '/node/i-02/command/shell',
      { command: c.command },
      'key-2',
    );
    expect(elsewhere.status).toBe(422);
    expect(c.runs()).toBe(1);
  });

  it('keys are per user: another user with the same key gets a job of their own', async () => {
    const c = counted('users');
    const bob = await sys.token(['admin']);
    // Same subject in test tokens: a different subject needs its own token.
    const { signToken } = await import('../../src/auth/index.js');
    const carol = await signToken({
      subject: 'carol@example.com',
      roles: ['admin'],
      signingKey: sys.signingKey,
      customRoles: sys.config.api.server.security.roles,
    });
    const a = await send('POST', '/node/i-01/command/shell', { command: c.command }, 'shared', bob);
    const b = await send(
      'POST',
      '/node/i-01/command/shell',
      { command: c.command },
      'shared',
      carol,
    );
    expect(b.body.job_id).not.toBe(a.body.job_id);
    expect(b.replayed).toBeNull();
    expect(c.runs()).toBe(2);
  });

  it('a request refused before it made a job (no matching agent) leaves the key free', async () => {
    const c = counted('freed');
    const refused = await send(
      'POST',
      '/node/nobody-here/command/shell',
      { command: c.command },
      'key-3',
    );
    expect(refused.status).toBe(404);
    // A different request with the same key is not "reuse": the key made nothing.
    const ok = await send('POST', '/node/i-01/command/shell', { command: c.command }, 'key-3');
    expect(ok.status).toBe(202);
    expect(ok.replayed).toBeNull();
    expect(c.runs()).toBe(1);
  });

  it.each([
    ['has a space', 'a b'],
    ['is too long', 'x'.repeat(256)],
    ['is empty', ''],
  ])('a key that %s is a 400 naming Idempotency-Key', async (_what, key) => {
    const r = await send('POST', '/node/i-01/command/shell', { command: 'true' }, key);
    expect(r.status).toBe(400);
    expect(r.body.reason).toBe('invalid_request');
    expect(r.body.error).toContain('Idempotency-Key');
  });
});

describe('job routes', () => {
  it('POST /job twice with one key: 201 both times, one job, one run', async () => {
    const c = counted('job');
    const body = {
      operation: { type: 'command.shell.execute', data: { command: c.command } },
      target_hostname: 'i-02',
    };
    const first = await send('POST', '/job', body, 'key-job');
    const second = await send('POST', '/job', body, 'key-job');
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.replayed).toBe('true');
    expect(second.body).toEqual(first.body);
    await waitFor('the job to run', () => c.runs() === 1);
    const list = await send('GET', '/job?limit=100', undefined, undefined);
    expect(list.body.items.filter((j: AnyJson) => j.id === first.body.job_id)).toHaveLength(1);
  });

  it('POST /job/{id}/retry with one key makes one new job', async () => {
    const c = counted('retry');
    const made = await send(
      'POST',
      '/job',
      {
        operation: { type: 'command.shell.execute', data: { command: c.command } },
        target_hostname: 'i-01',
      },
      undefined,
    );
    await waitFor('the first run', () => c.runs() === 1);
    const r1 = await send('POST', `/job/${made.body.job_id}/retry`, {}, 'key-retry');
    const r2 = await send('POST', `/job/${made.body.job_id}/retry`, {}, 'key-retry');
    expect(r1.status).toBe(201);
    expect(r2.body.job_id).toBe(r1.body.job_id);
    await waitFor('the retried run', () => c.runs() === 2);
    const old = await send('GET', `/job/${made.body.job_id}`, undefined, undefined);
    expect(old.body.timeline.filter((e: AnyJson) => e.event === 'retried')).toHaveLength(1);
  });
});

describe('secrets in the digest', () => {
  const key = Buffer.alloc(32, 7);
  const secrets = { at: ['operation', 'data'], fields: ['password'] };
  const body = (password: string, vars: object = {}) => ({
    operation: { type: 'user.password.set', data: { name: 'deploy', password, vars } },
    target_hostname: '_all',
  });

  it('replaces only the declared fields, by a keyed digest: the same password and key alike, any other not', () => {
    const a = withSecretsDigested(body('s3cret'), secrets, key, 'kv-1') as AnyJson;
    expect(a.operation.data.password).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(JSON.stringify(a)).not.toContain('s3cret');
    expect(withSecretsDigested(body('s3cret'), secrets, key, 'kv-1')).toEqual(a);
    for (const other of [
      withSecretsDigested(body('s3cret!'), secrets, key, 'kv-1'),
      withSecretsDigested(body('s3cret'), secrets, key, 'kv-2'),
      withSecretsDigested(body('s3cret'), secrets, Buffer.alloc(32, 8), 'kv-1'),
    ] as AnyJson[]) {
      expect(other.operation.data.password).not.toBe(a.operation.data.password);
    }
    // A field of the same name elsewhere is data, kept as it is, however long.
    const long = 'p'.repeat(96 * 1024);
    const nested = withSecretsDigested(body('s3cret', { password: long }), secrets, key, 'kv-1');
    expect((nested as AnyJson).operation.data.vars.password).toBe(long);
    expect(withSecretsDigested({ password: 'x' }, secrets, key, 'kv-1')).toEqual({
      password: 'x',
    });
  });

  it('digests under a key derived from the job-signing key: the same after a restart, another for another key', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const again = createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const first = secretDigestKey(jobSigner(privateKey));
    expect(first).toHaveLength(32);
    expect(secretDigestKey(jobSigner(again))).toEqual(first);
    const other = generateKeyPairSync('ed25519').privateKey;
    expect(secretDigestKey(jobSigner(other))).not.toEqual(first);
    expect(secretDigestKey(undefined)).toEqual(secretDigestKey(undefined));
  });
});
