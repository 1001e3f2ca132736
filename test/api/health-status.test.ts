// GET /health/status against a real nats-server: degraded (503) naming the
// reason while no agent is Ready, ok once one is, the counts it reports, the
// permission it needs, and a bounded answer when NATS itself is gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DURATION_PATTERN } from '../../src/config/duration.js';
import { OsapiClient } from '../../src/sdk/client.js';
import { post, request, startTestSystem, type TestSystem } from '../support/system.js';
import { waitFor } from './helpers.js';

let sys: TestSystem;
let admin: string;

beforeAll(async () => {
  sys = await startTestSystem();
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

const status = () => request(sys, 'GET', '/health/status', undefined, admin);

describe('GET /health/status', () => {
  it('is degraded (503) and names the reason while no agent is Ready', async () => {
    const r = await status();
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ status: 'degraded', code: 503, reason: 'degraded' });
    expect(r.body.components.agents.status).toBe('error');
    expect(r.body.components.agents.error).toMatch(/no agent is Ready \(0 registered\)/);
    expect(r.body.error).toContain('agents: no agent is Ready');
    // Only the agents are at fault: everything else is checked and fine.
    for (const c of ['nats', 'stream', 'kv', 'consumers']) {
      expect(r.body.components[c], c).toEqual({ status: 'ok' });
    }
    // The SDK hands a degraded answer back rather than throwing it.
    const sdk = await new OsapiClient({ url: sys.url, token: admin }).healthStatus();
    expect(sdk.status).toBe(503);
    expect(sdk.body.status).toBe('degraded');
  });

  it('is ok with a Ready agent, and reports NATS, streams, buckets, consumers, jobs and agents', async () => {
    await sys.startAgent('web-01', { group: 'web.dev', zone: 'a' });
    await sys.waitForAgents(['web-01']);
    const ran = await post(sys, '/node/web-01/command/shell', { command: 'echo hi' }, admin);
    expect(ran.status).toBe(202);

    // The jobs view follows the bucket by a watch: the final status event may land just after the answer.
    const r = await waitFor('the job counted as completed', async () => {
      const s = await status();
      return s.body.jobs?.completed === 1 ? s : undefined;
    });
    expect(r.status).toBe(200);
    const b = r.body;
    expect(b.status).toBe('ok');
    expect(b.error).toBeUndefined();
    expect(
      Object.values(b.components).every((c) => (c as { status: string }).status === 'ok'),
    ).toBe(true);
    expect(b.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(b.uptime).toMatch(new RegExp(DURATION_PATTERN));
    expect(b.nats).toEqual({ url: sys.nats.url, version: expect.stringMatching(/^2\./) });

    const ns = sys.config.api.server.nats.namespace;
    const streams = new Map(b.streams.map((s: { name: string }) => [s.name, s]));
    expect([...streams.keys()].sort()).toEqual([`${ns}-JOBS`, `${ns}-JOBS-DLQ`]);
    expect(streams.get(`${ns}-JOBS`)).toMatchObject({ messages: 1 });
    expect((streams.get(`${ns}-JOBS`) as { consumers: number }).consumers).toBeGreaterThan(0);
    const buckets = new Map(b.kv_buckets.map((k: { name: string }) => [k.name, k]));
    expect([...buckets.keys()].sort()).toEqual(
      [`${ns}-agent-registry`, `${ns}-audit-log`, `${ns}-job-queue`, `${ns}-job-responses`].sort(),
    );
    expect(buckets.get(`${ns}-job-responses`)).toMatchObject({ keys: 1 });
    expect((buckets.get(`${ns}-job-queue`) as { bytes: number }).bytes).toBeGreaterThan(0);

    expect(b.jobs).toEqual({
      total: 1,
      unprocessed: 0,
      processing: 0,
      completed: 1,
      failed: 0,
      partial_failure: 0,
      dlq: 0,
    });
    expect(b.agents.total).toBe(1);
    expect(b.agents.ready).toBe(1);
    expect(b.agents.agents).toEqual([
      {
        hostname: 'web-01',
        labels: 'group=web.dev,zone=a',
        registered: expect.stringMatching(/^\w+ ago$/),
        status: 'Ready',
      },
    ]);
    expect(b.consumers.total).toBe(b.consumers.consumers.length);
    expect(b.consumers.total).toBeGreaterThan(0);
    for (const c of b.consumers.consumers) {
      expect(c).toEqual({
        name: expect.any(String),
        pending: 0,
        ack_pending: 0,
        redelivered: 0,
      });
    }
  });

  it('needs health:read', async () => {
    expect((await request(sys, 'GET', '/health/status')).status).toBe(401);
    const noHealth = await sys.token(['read'], ['agent:read', 'job:read']);
    const refused = await request(sys, 'GET', '/health/status', undefined, noHealth);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({
      reason: 'forbidden',
      missing_permission: 'health:read',
      details: 'missing_permission: health:read',
    });
    const reader = await sys.token(['read']);
    expect((await request(sys, 'GET', '/health/status', undefined, reader)).status).toBe(200);
  });

  // Last: it stops this file's nats-server.
  it('answers degraded within a bound when NATS is gone, without asking JetStream', async () => {
    // The agent goes first, while it can still deregister: a quicker shutdown.
    await sys.stopAgent('web-01');
    await sys.nats.server.stop(2000);
    const t0 = Date.now();
    const r = await status();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.status).toBe(503);
    expect(r.body.components.nats.status).toBe('error');
    expect(r.body.components.nats.error).toMatch(/not connected to NATS/);
    for (const c of ['stream', 'kv', 'consumers']) {
      expect(r.body.components[c]).toEqual({
        status: 'error',
        error: 'not checked: NATS is not connected',
      });
    }
    expect(r.body.error).toMatch(/^degraded: nats: /);
  });
});
