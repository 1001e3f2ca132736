// The users', groups' and SSH keys' routes (user:read, user:write) against a
// real nats-server and two agents, both on this machine (run as root), so
// they share its /etc/passwd: a broadcast reads, a change goes to one agent.
// Changes are made on throwaway `osapitest-<hex>` accounts, removed in
// afterAll whatever failed. A password set through the API is searched for
// afterwards in every message of every stream of the test's NATS server
// (jobs, results, audit, idempotency keys, live output) and in the debug
// log of the whole run: it is in none.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HIDDEN_PASSWORD_HASH } from '../../src/api/job/routes.js';
import { createLogger } from '../../src/log/logger.js';
import { OsapiClient } from '../../src/sdk/client.js';
import { hostCrypt } from '../support/host-crypt.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { byHost, waitFor } from './helpers.js';

const logLines: string[] = [];
const capture = new Writable({
  write(chunk, _enc, done) {
    logLines.push(String(chunk));
    done();
  },
});

let sys: TestSystem;
let admin: string;
let reader: string;
const tmp = mkdtempSync(join(tmpdir(), 'osapi-users-api-'));
const made = { users: new Set<string>(), groups: new Set<string>() };
const throwaway = (kind: 'users' | 'groups') => {
  const n = `osapitest-${randomBytes(4).toString('hex')}`;
  made[kind].add(n);
  if (kind === 'users') made.groups.add(n);
  return n;
};

const fileLine = (file: string, name: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));

function newKey(comment: string): { line: string; fp: string } {
  const file = join(tmp, `key-${randomBytes(4).toString('hex')}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  const fp = execFileSync('ssh-keygen', ['-lf', `${file}.pub`])
    .toString()
    .split(' ')[1] as string;
  return { line: readFileSync(`${file}.pub`, 'utf8').trim(), fp };
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('these tests change accounts: run them as root');
  sys = await startTestSystem({ logger: createLogger({ debug: true, destination: capture }) });
  await sys.startAgent('us-01', { group: 'accounts' });
  await sys.startAgent('us-02', { group: 'accounts' });
  await sys.waitForAgents(['us-01', 'us-02']);
  admin = await sys.token(['admin']);
  reader = await sys.token(['read']);
});

afterAll(async () => {
  try {
    await sys?.stop();
  } finally {
    removeMade();
  }
});

/** Every account the tests made goes, whatever else failed. */
function removeMade(): void {
  for (const u of made.users) {
    if (fileLine('/etc/passwd', u)) execFileSync('userdel', ['-r', '--', u], { stdio: 'ignore' });
    rmSync(`/home/${u}`, { recursive: true, force: true });
  }
  for (const g of made.groups) {
    if (fileLine('/etc/group', g)) execFileSync('groupdel', ['--', g], { stdio: 'ignore' });
  }
  rmSync(tmp, { recursive: true, force: true });
}

const call = (method: string, path: string, body?: unknown, token = admin) =>
  request(sys, method, path, body, token);

describe('reads', () => {
  it('a broadcast lists users and groups on each agent; a read token may', async () => {
    const users = await call('GET', '/node/_all/user', undefined, reader);
    expect(users.status, JSON.stringify(users.body)).toBe(200);
    const results = byHost(users.body.results);
    expect(results.map((r: AnyJson) => [r.hostname, r.status])).toEqual([
      ['us-01', 'ok'],
      ['us-02', 'ok'],
    ]);
    for (const r of results) {
      expect(r.users.find((u: AnyJson) => u.name === 'root')).toEqual({
        name: 'root',
        uid: 0,
        gid: 0,
        home: '/root',
        shell: expect.stringMatching(/^\//),
        groups: [],
        locked: expect.any(Boolean),
      });
    }
    const groups = await call('GET', '/node/group:accounts/group', undefined, reader);
    expect(groups.status).toBe(200);
    expect(groups.body.results).toHaveLength(2);
    expect(groups.body.results[0].groups[0]).toEqual({ name: 'root', gid: 0, members: [] });

    const one = await call('GET', '/node/us-01/user/root', undefined, reader);
    expect(one.body.results).toEqual([
      expect.objectContaining({ hostname: 'us-01', status: 'ok', users: [expect.any(Object)] }),
    ]);
    const none = await call('GET', '/node/us-01/user/osapitest-nosuchuser', undefined, reader);
    expect(none.status).toBe(200);
    expect(none.body.results).toEqual([
      {
        hostname: 'us-01',
        status: 'failed',
        error: 'user osapitest-nosuchuser does not exist on this host',
      },
    ]);
  });
});

describe('changes, on one agent', () => {
  it('creates, updates, sets a password and deletes a user; each again is no change', async () => {
    const name = throwaway('users');
    const group = throwaway('groups');
    const g = await call('POST', '/node/us-01/group', { name: group });
    expect(g.status, JSON.stringify(g.body)).toBe(200);
    expect(g.body.results).toEqual([
      { hostname: 'us-01', status: 'ok', name: group, changed: true },
    ]);

    const body = { name, shell: '/bin/bash', groups: [group] };
    const created = await call('POST', '/node/us-01/user', body);
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body.results).toEqual([
      { hostname: 'us-01', status: 'ok', name, changed: true },
    ]);
    expect(fileLine('/etc/passwd', name)).toMatch(/:\/home\/osapitest-\w+:\/bin\/bash$/);
    expect(fileLine('/etc/group', group)).toMatch(new RegExp(`:${name}$`));
    const again = await call('POST', '/node/us-01/user', body);
    expect(again.body.results[0]).toMatchObject({ status: 'ok', changed: false });

    const updated = await call('PUT', `/node/us-01/user/${name}`, {
      shell: '/bin/sh',
      groups: [],
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body.results[0]).toMatchObject({ status: 'ok', name, changed: true });
    expect(fileLine('/etc/passwd', name)).toMatch(/:\/bin\/sh$/);
    expect(fileLine('/etc/group', group)).toMatch(/:$/);

    const dGroup = await call('DELETE', `/node/us-01/group/${group}`);
    expect(dGroup.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    // A DELETE without any body, as curl -X DELETE sends it.
    const deleted = await call('DELETE', `/node/us-01/user/${name}`);
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    expect(deleted.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(fileLine('/etc/passwd', name)).toBeUndefined();
    const gone = await call('DELETE', `/node/us-01/user/${name}`, { max_concurrency: 1 });
    expect(gone.body.results[0]).toMatchObject({ status: 'ok', changed: false });
    const root = await call('DELETE', '/node/us-01/user/root');
    expect(root.body.results[0]).toMatchObject({ status: 'failed', changed: false });
  });

  it('SSH keys: added, listed, removed by a URL-encoded fingerprint (and by the SDK)', async () => {
    const name = throwaway('users');
    await call('POST', '/node/us-02/user', { name });
    const home = fileLine('/etc/passwd', name)?.split(':')[5] as string;
    const a = newKey('a@example');
    const b = newKey('b@example');
    for (const k of [a, b]) {
      const r = await call('POST', `/node/us-02/user/${name}/ssh-key`, { key: k.line });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.results).toEqual([
        { hostname: 'us-02', status: 'ok', changed: true, fingerprint: k.fp },
      ]);
    }
    const file = join(home, '.ssh', 'authorized_keys');
    expect(readFileSync(file, 'utf8')).toBe(`${a.line}\n${b.line}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = await call('POST', `/node/us-02/user/${name}/ssh-key`, { key: a.line });
    expect(again.body.results[0]).toMatchObject({ changed: false });

    const listed = await call('GET', `/node/us-02/user/${name}/ssh-key`, undefined, reader);
    expect(listed.body.results[0].keys).toEqual([
      { type: 'ssh-ed25519', fingerprint: a.fp, comment: 'a@example' },
      { type: 'ssh-ed25519', fingerprint: b.fp, comment: 'b@example' },
    ]);

    const removed = await call(
      'DELETE',
      `/node/us-02/user/${name}/ssh-key/${encodeURIComponent(a.fp)}`,
    );
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body.results[0]).toMatchObject({
      status: 'ok',
      changed: true,
      fingerprint: a.fp,
    });
    const client = new OsapiClient({ url: sys.url, token: admin });
    const bySdk = await client.userSshKeyRemove('us-02', { name, fingerprint: b.fp });
    expect(bySdk.body.results[0]).toMatchObject({ status: 'ok', changed: true });
    expect(readFileSync(file, 'utf8')).toBe('');
    const absent = await client.userSshKeyRemove('us-02', { name, fingerprint: b.fp });
    expect(absent.body.results[0]).toMatchObject({ status: 'ok', changed: false });
  });

  it('a read token may not change anything', async () => {
    for (const [method, path, body] of [
      ['POST', '/node/us-01/user', { name: 'osapitest-never' }],
      ['PUT', '/node/us-01/user/root', { shell: '/bin/sh' }],
      ['DELETE', '/node/us-01/user/osapitest-never', undefined],
      ['POST', '/node/us-01/user/root/password', { password: 'x' }],
      ['POST', '/node/us-01/user/root/ssh-key', { key: newKey('x').line }],
      ['POST', '/node/us-01/group', { name: 'osapitest-never' }],
      ['DELETE', '/node/us-01/group/root', undefined],
    ] as const) {
      const r = await call(method, path, body, reader);
      expect(r.status, `${method} ${path}`).toBe(403);
    }
    expect(fileLine('/etc/passwd', 'osapitest-never')).toBeUndefined();
  });
});

describe('hostile input: 400 naming the field, nothing sent', () => {
  const key = () => newKey('k').line;
  it.each([
    ['POST', '/node/us-01/user', { name: '-o' }, 'name'],
    ['POST', '/node/us-01/user', { name: 'root;id' }, 'name'],
    ['POST', '/node/us-01/user', { name: '../x' }, 'name'],
    ['POST', '/node/us-01/user', { name: `a${'b'.repeat(32)}` }, 'name'],
    ['POST', '/node/us-01/user', { name: 'Upper' }, 'name'],
    ['POST', '/node/us-01/user', { name: 'ok', home: 'relative' }, 'home'],
    ['POST', '/node/us-01/user', { name: 'ok', home: '/home/../etc' }, 'home'],
    ['POST', '/node/us-01/user', { name: 'ok', shell: '/bin/sh:0:0' }, 'shell'],
    ['POST', '/node/us-01/user', { name: 'ok', groups: ['-G'] }, 'groups[0]'],
    ['POST', '/node/us-01/user', { name: 'ok', groups: ['adm', 'adm'] }, 'groups[1]'],
    ['POST', '/node/us-01/user', { name: 'ok', uid: -1 }, 'uid'],
    ['POST', '/node/us-01/user', { name: 'ok', uid: 4294967295 }, 'uid'],
    ['POST', '/node/us-01/user', { name: 'ok', password: '' }, 'password'],
    ['POST', '/node/us-01/user', { name: 'ok', password_hash: '$6$x$y' }, 'password_hash'],
    ['PUT', '/node/us-01/user/-o', { shell: '/bin/sh' }, 'name'],
    ['PUT', '/node/us-01/user/root', {}, 'body'],
    ['PUT', '/node/us-01/user/root', { name: 'other', lock: true }, 'name'],
    ['DELETE', '/node/us-01/user/root%3Bid', undefined, 'name'],
    ['POST', '/node/us-01/user/..%2Fx/password', { password: 'x' }, 'name'],
    ['POST', '/node/us-01/user/root/password', { password: 'a\u0000b' }, 'password'],
    ['POST', '/node/us-01/user/root/ssh-key', { key: 'ssh-ed25519 AAAA\nssh-rsa AAAA' }, 'key'],
    ['DELETE', '/node/us-01/user/root/ssh-key/SHA256%3Anot-one', undefined, 'fingerprint'],
    ['DELETE', '/node/us-01/user/root/ssh-key/MD5%3Aab', undefined, 'fingerprint'],
    ['POST', '/node/us-01/group', { name: '-r' }, 'name'],
    ['PUT', '/node/us-01/group/adm', { members: ['-M'] }, 'members[0]'],
    ['PUT', '/node/us-01/group/adm', {}, 'members'],
  ] as const)('%s %s %j: 400 naming %s', async (method, path, body, field) => {
    const r = await call(method, path, body);
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    expect(r.body.fields.map((f: AnyJson) => f.field)).toContain(field);
  });

  it('a key line holding a second key after a newline is refused as key', async () => {
    const r = await call('POST', '/node/us-01/user/root/ssh-key', { key: `${key()}\n${key()}` });
    expect(r.status).toBe(400);
    expect(r.body.fields).toEqual([
      { field: 'key', message: expect.stringMatching(/one public key/) },
    ]);
  });
});

describe('a password is never recorded', () => {
  it('is set on the host as its hash, and appears in no stream, record, audit entry or log line; its hash is not shown', async () => {
    const name = throwaway('users');
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const second = `pw-${randomBytes(12).toString('hex')}`;
    const created = await call('POST', '/node/us-01/user', { name, password });
    expect(created.body.results[0], JSON.stringify(created.body)).toMatchObject({
      status: 'ok',
      changed: true,
    });
    const first = fileLine('/etc/shadow', name)?.split(':')[1] as string;
    expect(hostCrypt(password, first)).toBe(first);

    const headers = { 'idempotency-key': `pw-${name}` };
    const set = await request(
      sys,
      'POST',
      `/node/us-01/user/${name}/password`,
      { password: second },
      admin,
      headers,
    );
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body.results[0]).toMatchObject({ status: 'ok', name, changed: true });
    const now = fileLine('/etc/shadow', name)?.split(':')[1] as string;
    expect(now).not.toBe(first);
    expect(hostCrypt(second, now)).toBe(now);
    // The same key and password: the first job, not a second run; another password: refused.
    const replay = await request(
      sys,
      'POST',
      `/node/us-01/user/${name}/password`,
      { password: second },
      admin,
      headers,
    );
    expect(replay.body.job_id).toBe(set.body.job_id);
    const reused = await request(
      sys,
      'POST',
      `/node/us-01/user/${name}/password`,
      { password: `${second}x` },
      admin,
      headers,
    );
    expect(reused.status).toBe(422);
    expect(reused.body.reason).toBe('idempotency_key_reused');
    expect(JSON.stringify(reused.body)).not.toContain(second);

    // The job as the API shows it carries neither the password nor its hash.
    const job = await call('GET', `/job/${set.body.job_id}`, undefined, reader);
    expect(job.body.operation.data).toEqual({ name, password_hash: HIDDEN_PASSWORD_HASH });

    // A refused request does not echo it either.
    const bad = await call('POST', `/node/us-01/user/${name}/password`, {
      password: `${second}\u0000`,
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).not.toContain(second);

    await sys.api.audit.flush();
    const jsm = await jetstreamManager(sys.api.nc);
    // What the search would find: the hash set on the host is in the job record it reads.
    const hash = now;
    let messages = 0;
    let hashSeen = false;
    for await (const stream of jsm.streams.list()) {
      const { first_seq, last_seq } = stream.state;
      for (let seq = first_seq; seq <= last_seq && last_seq > 0; seq++) {
        const m = await jsm.streams.getMessage(stream.config.name, { seq }).catch(() => null);
        if (!m) continue;
        messages++;
        const text = Buffer.from(m.data).toString('latin1');
        hashSeen ||= text.includes(hash);
        for (const pw of [password, second]) {
          expect(text, `${stream.config.name} #${seq}`).not.toContain(pw);
        }
      }
    }
    expect(messages).toBeGreaterThan(10);
    expect(hashSeen).toBe(true);
    const log = logLines.join('');
    expect(log).toMatch(/password/); // the run was logged: its routes at least
    for (const pw of [password, second]) expect(log).not.toContain(pw);
  });
});

describe('a password is literal text, bounded before it is hashed', () => {
  const passwordJob = (data: object) =>
    call('POST', '/job', {
      operation: { type: 'user.password.set', data },
      target_hostname: 'us-01',
    });

  it('a password over 511 characters ending in @fact.<key> is a 400 naming password and its limit, on POST /job and on the route', async () => {
    const huge = `${'p'.repeat(200 * 1024)}@fact.hostname`;
    const byJob = await passwordJob({ name: 'root', password: huge });
    expect(byJob.status, JSON.stringify(byJob.body).slice(0, 300)).toBe(400);
    expect(byJob.body.fields).toEqual([
      { field: 'operation.data.password', message: expect.stringMatching(/511/) },
    ]);
    expect(JSON.stringify(byJob.body)).not.toContain('ppp');
    // Told even when ten other problems, each left to the agents, come first.
    const created = await call('POST', '/job', {
      operation: {
        type: 'user.create',
        data: {
          name: 'osapitest-never',
          groups: Array.from({ length: 11 }, (_, i) => `${'g'.repeat(300)}${i}@fact.hostname`),
          password: huge,
        },
      },
      target_hostname: 'us-01',
    });
    expect(created.status, JSON.stringify(created.body).slice(0, 300)).toBe(400);
    expect(created.body.fields.map((f: AnyJson) => f.field)).toEqual(['operation.data.password']);
    const byRoute = await call('POST', '/node/us-01/user/root/password', { password: huge });
    expect(byRoute.status).toBe(400);
    expect(byRoute.body.fields).toEqual([
      { field: 'password', message: expect.stringMatching(/511/) },
    ]);
    // 256 characters of two bytes each: 512 bytes, more than a host's crypt(3) takes.
    const wide = 'é'.repeat(256);
    for (const r of [
      await passwordJob({ name: 'root', password: wide }),
      await call('POST', '/node/us-01/user', { name: 'osapitest-never', password: wide }),
    ]) {
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.fields).toEqual([
        {
          field: expect.stringMatching(/^(operation\.data\.)?password$/),
          message: expect.stringMatching(/at most 511 bytes in UTF-8/),
        },
      ]);
    }
  });

  it('@fact. in a password is never read as a reference: no 400 quotes it, and the host gets it as written', async () => {
    const secret = `Secret-${randomBytes(8).toString('hex')}`;
    const bad = await passwordJob({ name: 'Not A Name', password: `x@fact.!${secret}` });
    expect(bad.status).toBe(400);
    expect(bad.body.fields.map((f: AnyJson) => f.field)).toEqual(['operation.data.name']);
    expect(JSON.stringify(bad.body)).not.toContain(secret);

    const name = throwaway('users');
    const made = await call('POST', '/node/us-01/user', { name });
    expect(made.body.results[0], JSON.stringify(made.body)).toMatchObject({ status: 'ok' });
    const password = `pw@fact.hostname@fact.!${secret}`;
    const set = await passwordJob({ name, password });
    expect(set.status, JSON.stringify(set.body)).toBe(201);
    await waitFor('the password job to complete', async () => {
      const j = await call('GET', `/job/${set.body.job_id}`, undefined, reader);
      return j.body.status === 'completed' ? j.body : undefined;
    });
    const hash = fileLine('/etc/shadow', name)?.split(':')[1] as string;
    expect(hostCrypt(password, hash)).toBe(hash);
  });
});
