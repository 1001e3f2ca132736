import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let admin: string;
let dir: string;

beforeAll(async () => {
  sys = await startTestSystem();
  await sys.startAgent('aud-01');
  await sys.waitForAgents(['aud-01']);
  admin = await sys.token();
  dir = mkdtempSync(join(tmpdir(), 'osapi-audit-'));
});
afterAll(async () => {
  await sys?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The newest entries, once `predicate` finds one (writes are off the hot path). */
async function findEntry(s: TestSystem, predicate: (e: Record<string, unknown>) => boolean) {
  for (let i = 0; i < 100; i++) {
    const r = await request(s, 'GET', '/audit?limit=100', undefined, admin);
    const hit = r.body.items?.find(predicate);
    if (hit) return hit;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error('audit entry never appeared');
}

describe('audit log', () => {
  it('records a command request: who, what, where, the answer, never the token', async () => {
    const r = await request(
      sys,
      'POST',
      '/node/aud-01/command/exec',
      { command: 'echo', args: ['audited'] },
      admin,
    );
    expect(r.status).toBe(202);
    const e = await findEntry(sys, (x) => x.command === 'echo');
    expect(e).toMatchObject({
      user: 'tester@example.com',
      roles: ['admin'],
      method: 'POST',
      path: '/node/aud-01/command/exec',
      response_code: 202,
      target: 'aud-01',
      command: 'echo',
      args: ['audited'],
    });
    expect(e.operation_id).toMatch(/command\/exec/);
    expect(e.source_ip).toMatch(/127\.0\.0\.1/);
    expect(Number.isInteger(e.duration_ms)).toBe(true);
    expect(Date.parse(e.timestamp)).not.toBeNaN();
    expect(JSON.stringify(e)).not.toContain(admin);
    expect(JSON.stringify(e)).not.toContain(sys.signingKey);
  });

  it('records refused requests: 401 without a user, 403 with one', async () => {
    await request(sys, 'POST', '/node/_any/command/shell', { command: 'id' });
    await request(
      sys,
      'POST',
      '/node/_any/command/shell',
      { command: 'whoami' },
      await sys.token(['read']),
    );
    // Refused before the body is read: the target is known, the command not.
    const path = '/node/_any/command/shell';
    const unauth = await findEntry(sys, (x) => x.response_code === 401 && x.path === path);
    expect(unauth).toMatchObject({ user: '', roles: [], target: '_any' });
    const denied = await findEntry(sys, (x) => x.response_code === 403 && x.path === path);
    expect(denied).toMatchObject({ user: 'tester@example.com', roles: ['read'], target: '_any' });
  });

  it('records a job stream however it ends: 200 when it ran to its end, 499 when the client left', async () => {
    const run = await request(sys, 'POST', '/node/aud-01/command/exec', { command: 'true' }, admin);
    const path = `/job/${run.body.job_id}/stream`;
    // The job is final: the stream sends its result and end, and closes.
    const whole = await fetch(`${sys.url}${path}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(await whole.text()).toContain('event: end');
    expect(await findEntry(sys, (x) => x.path === path)).toMatchObject({ response_code: 200 });

    const slow = await request(
      sys,
      'POST',
      '/node/aud-01/command/exec?async=true',
      { command: 'sleep', args: ['5'] },
      admin,
    );
    const left = `/job/${slow.body.job_id}/stream`;
    const ac = new AbortController();
    const res = await fetch(`${sys.url}${left}`, {
      headers: { authorization: `Bearer ${admin}` },
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    ac.abort();
    const e = await findEntry(sys, (x) => x.path === left);
    expect(e).toMatchObject({ response_code: 499, user: 'tester@example.com', method: 'GET' });
  });

  it('lists newest first with paging, reads one entry, and validates', async () => {
    const page = await request(sys, 'GET', '/audit?limit=2', undefined, admin);
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(2);
    const [a, b] = page.body.items;
    expect(a.id > b.id).toBe(true);
    // Every request is audited, these included, so the log grows while read:
    // an entry at offset 1 is never newer than the newest seen before.
    const next = await request(sys, 'GET', '/audit?limit=1&offset=1', undefined, admin);
    expect(next.body.items[0].id <= a.id).toBe(true);
    const one = await request(sys, 'GET', `/audit/${b.id}`, undefined, admin);
    expect(one).toMatchObject({ status: 200, body: { entry: { id: b.id } } });
    expect(
      (await request(sys, 'GET', '/audit/0190f000-0000-7000-8000-000000000000', undefined, admin))
        .status,
    ).toBe(404);
    expect((await request(sys, 'GET', '/audit/nope', undefined, admin)).status).toBe(400);
    for (const q of ['limit=0', 'limit=101', 'offset=-1']) {
      expect((await request(sys, 'GET', `/audit?${q}`, undefined, admin)).status, q).toBe(400);
    }
    const noAudit = await sys.token(['write']);
    expect((await request(sys, 'GET', '/audit', undefined, noAudit)).status).toBe(403);
  });

  it('exports every entry as JSON or JSON lines', async () => {
    const json = await request(sys, 'GET', '/audit/export', undefined, admin);
    expect(json.status).toBe(200);
    expect(json.body.items.length).toBe(json.body.total_items);
    const res = await fetch(`${sys.url}/audit/export?format=jsonl`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(res.headers.get('content-type')).toMatch(/ndjson/);
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThanOrEqual(json.body.total_items);
    expect(lines[0].id < (lines.at(-1)?.id ?? '')).toBe(true);
  });
});

describe('when the audit log cannot be written', () => {
  async function breakAudit(s: TestSystem) {
    const jsm = await jetstreamManager(s.api.nc);
    await jsm.streams.delete(`KV_${s.config.api.server.nats.namespace}-audit-log`);
  }

  it('with audit.required, a request is refused with 503 before anything runs', async () => {
    const strict = await startTestSystem({
      overrides: { 'api.server.security.audit.required': true },
    });
    try {
      await strict.startAgent('strict-01');
      await strict.waitForAgents(['strict-01']);
      const token = await strict.token();
      const file = join(dir, 'ran');
      const ok = await request(
        strict,
        'POST',
        '/node/strict-01/command/shell',
        { command: 'true' },
        token,
      );
      expect(ok.status).toBe(202);
      await breakAudit(strict);
      const r = await request(
        strict,
        'POST',
        '/node/strict-01/command/shell',
        { command: `touch ${file}` },
        token,
      );
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ code: 503, reason: 'audit_unavailable' });
      expect(existsSync(file)).toBe(false);
    } finally {
      await strict.stop();
    }
  });

  it('without it, the request runs and the lost entry is retried, logged and counted', async () => {
    const lax = await startTestSystem();
    try {
      await lax.startAgent('lax-01');
      await lax.waitForAgents(['lax-01']);
      await breakAudit(lax);
      const r = await request(
        lax,
        'POST',
        '/node/lax-01/command/shell',
        { command: 'true' },
        await lax.token(),
      );
      expect(r.status).toBe(202);
      for (let i = 0; i < 200 && lax.api.audit.failures === 0; i++) {
        await new Promise((res) => setTimeout(res, 25));
      }
      expect(lax.api.audit.failures).toBeGreaterThanOrEqual(1);
    } finally {
      await lax.stop();
    }
  });
});
