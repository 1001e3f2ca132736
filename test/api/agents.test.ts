import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../../src/api/start.js';
import { systemClock } from '../../src/job/clock.js';
import { silentLogger } from '../support/nats.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';
import { plantAgent, storeFor, waitFor } from './helpers.js';

let sys: TestSystem;
let admin: string;

beforeAll(async () => {
  // Short, for the NotReady test below; long enough that live agents, which
  // beat every two thirds of it, never look NotReady on a loaded machine.
  sys = await startTestSystem({ overrides: { 'nats.registry.ttl': '3s' } });
  await sys.startAgent('web-01', { group: 'web.dev' });
  await sys.startAgent('db-01', { group: 'db' });
  await sys.waitForAgents(['db-01', 'web-01']);
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

describe('GET /agent', () => {
  it('lists every agent with its registry facts', async () => {
    const r = await request(sys, 'GET', '/agent', undefined, admin);
    expect(r.status).toBe(200);
    expect(r.body.total).toBe(2);
    const web = r.body.agents.find((a: { hostname: string }) => a.hostname === 'web-01');
    expect(web).toMatchObject({ status: 'Ready', labels: { group: 'web.dev' } });
    for (const k of [
      'registered_at',
      'started_at',
      'os_info',
      'uptime',
      'load_average',
      'memory',
    ]) {
      expect(web).toHaveProperty(k);
    }
    expect(Number.isInteger(web.memory.total)).toBe(true);
  });

  it('previews the agents a target reaches, and refuses a bad target', async () => {
    const r = await request(sys, 'GET', '/agent?target=group:web', undefined, admin);
    expect(r.body.agents.map((a: { hostname: string }) => a.hostname)).toEqual(['web-01']);
    const bad = await request(sys, 'GET', '/agent?target=a%20b', undefined, admin);
    expect(bad.status).toBe(400);
    expect(bad.body.reason).toBe('invalid_target');
  });

  it('GET /agent/{hostname} answers one agent, 404 for an unknown one', async () => {
    const r = await request(sys, 'GET', '/agent/db-01', undefined, admin);
    expect(r.status).toBe(200);
    expect(r.body.hostname).toBe('db-01');
    const missing = await request(sys, 'GET', '/agent/nope', undefined, admin);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 404, reason: 'not_found' });
  });

  it('needs agent:read', async () => {
    const noAgentRead = await sys.token(['read'], ['node:read']);
    expect((await request(sys, 'GET', '/agent', undefined, noAgentRead)).status).toBe(403);
    expect((await request(sys, 'GET', '/agent', undefined, await sys.token(['read']))).status).toBe(
      200,
    );
    expect((await request(sys, 'GET', '/agent')).status).toBe(401);
  });

  it('an agent that stops heartbeating turns NotReady', async () => {
    // A registry entry that nobody refreshes: what a dead agent leaves behind.
    const store = await storeFor(sys);
    await plantAgent(store, 'ghost-01');
    // Heard by the API's registry view a moment after the put.
    const first = await waitFor('the API to list ghost-01', async () => {
      const r = await request(sys, 'GET', '/agent/ghost-01', undefined, admin);
      return r.status === 200 && r;
    });
    expect(first.body.status).toBe('Ready');
    let status = 'Ready';
    for (let i = 0; i < 200 && status === 'Ready'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await request(sys, 'GET', '/agent/ghost-01', undefined, admin)).body.status;
    }
    expect(status).toBe('NotReady');
  });
});

describe('an API server starting', () => {
  it('listens once it has read the registry and the jobs: it knows them from its first request', async () => {
    // A system of its own: entries live as long as the registry's TTL, and
    // planting 3,000 of them on a loaded machine can take longer than the 3 s
    // the other tests here use.
    const own = await startTestSystem({ overrides: { 'nats.registry.ttl': '10m' } });
    try {
      const token = await own.token();
      // Enough entries that reading them takes a while.
      const store = await storeFor(own);
      const many = Array.from({ length: 3000 }, (_, i) => `many-${String(i).padStart(4, '0')}`);
      // Fifty at a time: 3,000 requests queued at once wait longer than a
      // NATS request may on a loaded machine.
      for (let i = 0; i < many.length; i += 50) {
        await Promise.all(many.slice(i, i + 50).map((h) => plantAgent(store, h)));
      }
      const job = await request(
        own,
        'POST',
        '/job',
        { operation: { type: 'node.hostname.get', data: {} }, target_hostname: 'many-0001' },
        token,
      );
      expect(job.status).toBe(201);
      const second = await startApiServer({
        config: own.config,
        signingKey: own.signingKey,
        logger: silentLogger,
        clock: systemClock,
        natsServers: [own.nats.url],
      });
      try {
        // No waiting: what a request would find the moment it listens.
        const hosts = second.registry.agents().map((a) => a.info.hostname);
        expect(hosts).toHaveLength(many.length);
        expect(hosts).toContain('many-2999');
        const r = await fetch(`${second.url}/job/${job.body.job_id}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(r.status).toBe(200);
      } finally {
        await second.stop();
      }
    } finally {
      await own.stop();
    }
  });
});

describe('GET /version', () => {
  it('is open and reports the package version', async () => {
    const { version } = JSON.parse(
      (await import('node:fs')).readFileSync(
        new URL('../../package.json', import.meta.url),
        'utf8',
      ),
    );
    const r = await request(sys, 'GET', '/version');
    expect(r).toEqual({ status: 200, body: { version } });
  });
});
