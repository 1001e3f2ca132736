// The audit log cannot be filled or blinded from outside: a flood of requests
// without a token (long paths, a token in the query) neither crowds out an
// admin's entry nor stores more than a bounded, query-free path; nor can a
// token holder's flood (huge refused commands, or many small requests) fill
// it: entries are cut to a bound and each token subject has a rate, beyond
// which a request is refused 429 before it runs; requests Node or Fastify
// refuse before any hook are recorded too; and a stop with a backlog ends
// within its bound, with every unwritten entry in the log.
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_FIELD_MAX_BYTES, AUDIT_LIST_MAX_BYTES } from '../../src/api/audit/fields.js';
import { AUDIT_PATH_MAX_BYTES } from '../../src/api/audit/path.js';
import { signToken } from '../../src/auth/index.js';
import type { AuditEntry } from '../../src/contract/audit.js';
import { createLogger } from '../../src/log/logger.js';
import { infraNames } from '../../src/names/names.js';
import { sample } from '../support/prometheus.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { waitFor } from './helpers.js';

/** Every entry, oldest first, through the export route. */
async function exported(sys: TestSystem, token: string): Promise<AuditEntry[]> {
  const res = await fetch(`${sys.url}/audit/export?format=jsonl`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  return (await res.text())
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as AuditEntry);
}

/** The newest entry `predicate` finds, once it is there (writes are off the hot path). */
/**
 * Sends an admin command (async: what is audited is the request, not the
 * run), expects it accepted, and returns its audit entry once readable.
 */
async function adminCommandAudited(sys: TestSystem, admin: string, host: string) {
  const run = await request(
    sys,
    'POST',
    `/node/${host}/command/exec?async=true`,
    { command: 'echo', args: ['after the flood'] },
    admin,
  );
  expect(run.status).toBe(202);
  return entryWhere(
    sys,
    admin,
    'the admin command',
    (x) => x.command === 'echo' && x.response_code === 202,
  );
}

function entryWhere(
  sys: TestSystem,
  token: string,
  what: string,
  predicate: (e: AuditEntry) => boolean,
): Promise<AuditEntry> {
  return waitFor(`the audit entry of ${what}`, async () => {
    const r = await request(sys, 'GET', '/audit?limit=100', undefined, token);
    return (r.body.items as AuditEntry[]).find(predicate);
  });
}

describe('a flood of unauthenticated requests', () => {
  // Small buckets so the flood fills the unauthenticated one in a moment; as
  // it was, one bucket held both kinds and 17 of these entries filled it.
  const FLOOD = 400;
  const BURST = 80;
  const UNAUTHENTICATED_BYTES = 64 * 1024;
  let sys: TestSystem;
  let admin: string;

  beforeAll(async () => {
    sys = await startTestSystem({
      overrides: {
        // Every request waits for its entry: a full audit log would be a 503.
        'api.server.security.audit.required': true,
        'api.server.security.audit.unauthenticated_burst': BURST,
        'nats.audit.max_bytes': 256 * 1024,
        'nats.audit.unauthenticated_max_bytes': UNAUTHENTICATED_BYTES,
      },
    });
    await sys.startAgent('flood-01');
    await sys.waitForAgents(['flood-01']);
    admin = await sys.token();
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('leaves room for an admin command, whose entry is readable; stores bounded paths without queries; counts what it drops', async () => {
    const long = `/${'a'.repeat(15_000)}`;
    for (let sent = 0; sent < FLOOD; sent += 50) {
      const codes = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const res = await fetch(`${sys.url}${long}?token=secret-${sent + i}`);
          await res.arrayBuffer();
          return res.status;
        }),
      );
      expect(new Set(codes)).toEqual(new Set([401]));
    }
    expect(await sys.api.audit.flush(20_000)).toBe(true);

    // The unauthenticated bucket is full: its oldest entries were pushed out.
    const names = infraNames({
      ...sys.config.nats,
      namespace: sys.config.api.server.nats.namespace,
    });
    const jsm = await jetstreamManager(sys.api.nc);
    const side = await jsm.streams.info(`KV_${names.unauthenticatedAuditBucket}`);
    expect(side.state.first_seq).toBeGreaterThan(1);
    expect(side.state.bytes).toBeLessThanOrEqual(UNAUTHENTICATED_BYTES);
    // Every flood request is either stored (then perhaps pushed out) or counted.
    const metrics = await (await fetch(`${sys.url}/metrics`)).text();
    const limited = sample(metrics, 'osapi_audit_dropped_total', { reason: 'rate_limited' }) ?? 0;
    const queueFull = sample(metrics, 'osapi_audit_dropped_total', { reason: 'queue_full' }) ?? 0;
    expect(limited).toBeGreaterThan(0);
    expect(side.state.last_seq + limited + queueFull).toBe(FLOOD);
    expect(sample(metrics, 'osapi_audit_write_failures_total')).toBe(0);

    // An admin command is still accepted (audit.required: its entry is
    // written before it is sent) and its entry is readable. Not waited for:
    // what is audited is the request, not the run.
    const e = await adminCommandAudited(sys, admin, 'flood-01');
    expect(e).toMatchObject({
      user: 'tester@example.com',
      path: '/node/flood-01/command/exec [query omitted]',
      args: ['after the flood'],
    });
    const one = await request(sys, 'GET', `/audit/${e.id}`, undefined, admin);
    expect(one).toMatchObject({ status: 200, body: { entry: { id: e.id, command: 'echo' } } });

    // Both kinds in one listing, newest first.
    const entries = await exported(sys, admin);
    const ids = entries.map((x) => x.id);
    expect(ids).toEqual([...ids].sort());
    const flood = entries.filter((x) => x.user === '');
    expect(flood.length).toBeGreaterThan(0);
    expect(entries.some((x) => x.user === 'tester@example.com')).toBe(true);
    const page = await request(sys, 'GET', '/audit?limit=100', undefined, admin);
    expect(page.body.total_items).toBeGreaterThanOrEqual(entries.length);
    for (const x of flood) {
      expect(Buffer.byteLength(x.path)).toBeLessThanOrEqual(AUDIT_PATH_MAX_BYTES);
      expect(x.path.startsWith('/aaaa')).toBe(true);
      expect(x.path.endsWith(' [cut: 15001 bytes] [query omitted]')).toBe(true);
      expect(x.response_code).toBe(401);
    }
    expect(JSON.stringify(entries)).not.toContain('secret');
    expect(JSON.stringify(entries)).not.toContain('?');
  });
});

describe('a flood of huge refused commands from a token holder', () => {
  // A role that may run `cat /var/log/*` only: each request below is refused
  // 403 by its policy, and was recorded with its whole body: 60 of them were
  // 50 MiB, a full audit bucket, then 503 for everyone under audit.required.
  // A 2 MiB bucket here is full after two. The default rate per subject
  // (burst 300) applies: each entry counts once more per KiB it takes, so
  // the last few may be refused 429 instead, and not stored.
  const FLOOD = 60;
  const AUTHENTICATED_BYTES = 2 * 1024 * 1024;
  let sys: TestSystem;
  let admin: string;
  let logs: string;

  beforeAll(async () => {
    sys = await startTestSystem({
      overrides: {
        'api.server.security.audit.required': true,
        'nats.audit.max_bytes': AUTHENTICATED_BYTES,
        'api.server.security.roles': {
          logs: { permissions: ['command:execute'], commands: { exec: ['cat /var/log/*'] } },
        },
      },
    });
    await sys.startAgent('flood-02');
    await sys.waitForAgents(['flood-02']);
    admin = await sys.token();
    logs = await signToken({
      subject: 'logs@example.com',
      roles: ['logs'],
      signingKey: sys.signingKey,
      customRoles: sys.config.api.server.security.roles,
    });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('stores each entry cut to a bound, says where it cut, and leaves room for an admin command', async () => {
    // ~875 KiB of args, 14 of 64,000 bytes (the most one may have); every
    // other request with a 60,000-byte command as well.
    const args = Array.from({ length: 14 }, () => 'a'.repeat(64_000));
    const longCommand = 'c'.repeat(60_000);
    const answers: string[] = [];
    for (let sent = 0; sent < FLOOD; sent += 10) {
      const codes = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const command = (sent + i) % 2 === 0 ? 'cat' : longCommand;
          const r = await request(
            sys,
            'POST',
            '/node/flood-02/command/exec',
            { command, args },
            logs,
          );
          return `${r.status} ${r.body.reason}`;
        }),
      );
      answers.push(...codes);
    }
    // Never a 503: the bucket never filled.
    const forbidden = answers.filter((a) => a === '403 forbidden').length;
    const limited = answers.filter((a) => a === '429 too_many_requests').length;
    expect(forbidden + limited, answers.join(', ')).toBe(FLOOD);
    expect(forbidden).toBeGreaterThanOrEqual(40);
    expect(await sys.api.audit.flush(20_000)).toBe(true);

    const entries = (await exported(sys, admin)).filter((x) => x.user === 'logs@example.com');
    expect(entries).toHaveLength(forbidden);
    for (const x of entries) {
      expect(x.response_code).toBe(403);
      // Small whatever was sent: 4 KiB of args, 1 KiB of command, and the rest.
      expect(Buffer.byteLength(JSON.stringify(x))).toBeLessThan(8 * 1024);
      const recorded = x.args ?? [];
      expect(recorded.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0)).toBeLessThanOrEqual(
        AUDIT_LIST_MAX_BYTES,
      );
      for (const a of recorded) {
        expect(Buffer.byteLength(a)).toBeLessThanOrEqual(AUDIT_FIELD_MAX_BYTES);
      }
      // Three arguments cut to 1 KiB each, then what was left out.
      expect(recorded).toHaveLength(4);
      for (const a of recorded.slice(0, 3)) {
        expect(a).toMatch(/^a+ \[cut: 64000 bytes\]$/);
      }
      expect(recorded[3]).toBe(`[cut: 11 more, ${11 * 64_000} bytes]`);
      expect(Buffer.byteLength(x.command ?? '')).toBeLessThanOrEqual(AUDIT_FIELD_MAX_BYTES);
      expect(x.command === 'cat' || x.command?.endsWith(' [cut: 60000 bytes]')).toBe(true);
    }
    expect(entries.some((x) => x.command !== 'cat')).toBe(true);

    const names = infraNames({
      ...sys.config.nats,
      namespace: sys.config.api.server.nats.namespace,
    });
    const jsm = await jetstreamManager(sys.api.nc);
    const bucket = await jsm.streams.info(`KV_${names.auditBucket}`);
    expect(bucket.state.bytes).toBeLessThan(AUTHENTICATED_BYTES / 2);
    const metrics = await (await fetch(`${sys.url}/metrics`)).text();
    expect(sample(metrics, 'osapi_audit_write_failures_total')).toBe(0);
    expect(sample(metrics, 'osapi_audit_dropped_total', { reason: 'user_rate_limited' })).toBe(
      limited,
    );

    // An admin command is still accepted (its entry is written before it is
    // sent) and its entry is readable.
    const e = await adminCommandAudited(sys, admin, 'flood-02');
    expect(e).toMatchObject({ user: 'tester@example.com', args: ['after the flood'] });
    const one = await request(sys, 'GET', `/audit/${e.id}`, undefined, admin);
    expect(one).toMatchObject({ status: 200, body: { entry: { id: e.id, command: 'echo' } } });
  });
});

describe('a token subject over its rate', () => {
  const BURST = 5;
  let sys: TestSystem;
  let admin: string;
  let reader: string;

  beforeAll(async () => {
    sys = await startTestSystem({
      overrides: {
        'api.server.security.audit.user_burst': BURST,
        'api.server.security.audit.user_rate': 1,
      },
    });
    admin = await sys.token();
    reader = await signToken({
      subject: 'reader@example.com',
      roles: ['read'],
      signingKey: sys.signingKey,
    });
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('is refused 429 before anything runs, 403s included, and not recorded; another subject is served and recorded', async () => {
    for (let i = 0; i < BURST; i++) {
      expect((await request(sys, 'GET', '/auth/me', undefined, reader)).status).toBe(200);
    }
    const refused: Array<{ status: number; body: AnyJson; retryAfter: string | null }> = [];
    for (const path of ['/auth/me', '/auth/me', '/audit']) {
      const res = await fetch(`${sys.url}${path}`, {
        headers: { authorization: `Bearer ${reader}` },
      });
      refused.push({
        status: res.status,
        body: await res.json(),
        retryAfter: res.headers.get('retry-after'),
      });
    }
    for (const r of refused) {
      // `/audit` would be a 403 (the read role has no audit:read): the rate comes first.
      expect(r.status).toBe(429);
      expect(r.body).toMatchObject({
        code: 429,
        reason: 'too_many_requests',
        limit: 'api.server.security.audit.user_rate',
        per_minute: 1,
        burst: BURST,
        details: expect.stringContaining('limit: api.server.security.audit.user_rate'),
      });
      expect(r.body.error).toMatch(
        /^reader@example\.com sent more requests than the audit log records for one user \(api\.server\.security\.audit\.user_rate: 1 a minute, after a burst of user_burst: 5\), so nothing was run; try again in \d+ s$/,
      );
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
      expect(r.body.retry_after_s).toBe(Number(r.retryAfter));
    }

    // Another subject has a rate of its own: served, and recorded.
    const me = await request(sys, 'GET', '/auth/me', undefined, admin);
    expect(me).toMatchObject({ status: 200, body: { subject: 'tester@example.com' } });
    expect(await sys.api.audit.flush(5000)).toBe(true);
    const entries = await exported(sys, admin);
    expect(
      entries.filter((x) => x.user === 'tester@example.com' && x.path === '/auth/me'),
    ).toHaveLength(1);
    // The reader's entries: its burst, none of the refused.
    const readers = entries.filter((x) => x.user === 'reader@example.com');
    expect(readers.map((x) => x.response_code)).toEqual(Array(BURST).fill(200));
    const metrics = await (await fetch(`${sys.url}/metrics`)).text();
    expect(sample(metrics, 'osapi_audit_dropped_total', { reason: 'user_rate_limited' })).toBe(
      refused.length,
    );
  });
});

/** Sends raw bytes and returns whatever comes back before the server closes. */
function rawExchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => socket.end(bytes));
    socket.on('data', (c) => chunks.push(c));
    // The server answers, then resets the connection: what came is the answer.
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.setTimeout(10_000, () => reject(new Error('no answer within 10 s')));
  });
}

describe('requests refused before any hook', () => {
  let sys: TestSystem;
  let admin: string;

  beforeAll(async () => {
    sys = await startTestSystem();
    admin = await sys.token();
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it('records a 414 (a path segment over the limit), without its query', async () => {
    const path = `/job/${'b'.repeat(400)}`;
    const r = await request(sys, 'GET', `${path}?token=secret`);
    expect(r).toMatchObject({ status: 414, body: { reason: 'uri_too_long' } });
    const e = await entryWhere(sys, admin, 'the 414', (x) => x.response_code === 414);
    expect(e).toMatchObject({ user: '', method: 'GET', path: `${path} [query omitted]` });
  });

  it('records a 400 for a malformed URL', async () => {
    const r = await request(sys, 'GET', '/job/%E0%A4%A');
    expect(r).toMatchObject({ status: 400, body: { reason: 'invalid_request' } });
    const e = await entryWhere(sys, admin, 'the bad URL', (x) => x.path === '/job/%E0%A4%A');
    expect(e).toMatchObject({ user: '', method: 'GET', response_code: 400 });
  });

  it('records a 431 (headers over 16 KiB) that Node refuses before Fastify sees it', async () => {
    const answer = await rawExchange(
      sys.url,
      `GET /big?token=secret HTTP/1.1\r\nHost: x\r\nX-Filler: ${'c'.repeat(20_000)}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(answer).toContain('"reason":"headers_too_large"');
    const e = await entryWhere(sys, admin, 'the 431', (x) => x.response_code === 431);
    expect(e).toMatchObject({ user: '', operation_id: 'client-error HPE_HEADER_OVERFLOW' });
    expect(e.source_ip).toMatch(/127\.0\.0\.1/);
    expect(JSON.stringify(e)).not.toContain('secret');
  });

  it('records a 400 for malformed HTTP', async () => {
    const answer = await rawExchange(
      sys.url,
      'GET /malformed?token=secret HTTP/1.1\r\nHost: x\r\nthis is no header\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"reason":"invalid_request"');
    // Not the 431 of the test before: this one's own code and path.
    const e = await entryWhere(
      sys,
      admin,
      'the malformed request',
      (x) => x.operation_id.startsWith('client-error') && x.response_code === 400,
    );
    expect(e).toMatchObject({
      user: '',
      method: 'GET',
      path: '/malformed [query omitted]',
      response_code: 400,
    });
  });
});

describe('a stop while NATS is unreachable', () => {
  it('returns within its bound and logs every entry it could not write', async () => {
    const lines: string[] = [];
    const capture = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const sys = await startTestSystem({
      logger: createLogger({ debug: false, destination: capture }),
    });
    try {
      const admin = await sys.token();
      await sys.nats.stop();
      // Answered without NATS (unknown paths, after authentication); each
      // leaves an entry that cannot be written now.
      const paths = Array.from({ length: 20 }, (_, i) => `/gone-${i}`);
      for (const p of paths) {
        expect((await request(sys, 'GET', `${p}?token=secret`, undefined, admin)).status).toBe(404);
      }
      expect(sys.api.audit.backlog).toBeGreaterThan(0);

      const started = performance.now();
      await sys.api.stop();
      // 3 s for the audit backlog, 2 s for the NATS connection, and slack for
      // a busy machine; as it was, entries were still being retried one by
      // one (2.6 s each) long after this.
      expect(performance.now() - started).toBeLessThan(8000);
      expect(sys.api.audit.backlog).toBe(0);

      const logged = lines
        .map((l) => JSON.parse(l) as { audit_entry?: AuditEntry })
        .flatMap((l) => (l.audit_entry ? [l.audit_entry] : []));
      for (const p of paths) {
        expect(
          logged.find((x) => x.path === `${p} [query omitted]`),
          p,
        ).toMatchObject({
          user: 'tester@example.com',
          response_code: 404,
        });
      }
      expect(lines.join('\n')).not.toContain('secret');
    } finally {
      await sys.stop();
    }
  });
});
