// GET /metrics against a real nats-server: requests counted by route pattern
// (never the raw URL), jobs by operation and status, round trips, agents
// Ready; and registries that stay apart between servers in one process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiMetrics } from '../../src/api/metrics/api-metrics.js';
import { OsapiClient } from '../../src/sdk/client.js';
import { sample } from '../support/prometheus.js';
import { post, request, startTestSystem, type TestSystem } from '../support/system.js';
import { waitFor } from './helpers.js';

let sys: TestSystem;
let admin: string;

beforeAll(async () => {
  sys = await startTestSystem();
  await sys.startAgent('web-01', { group: 'web' });
  await sys.waitForAgents(['web-01']);
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

async function scrape(): Promise<string> {
  const res = await fetch(`${sys.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe('GET /metrics', () => {
  it('counts requests by route pattern and status code, with a latency histogram', async () => {
    const id = crypto.randomUUID();
    expect((await request(sys, 'GET', `/job/${id}`, undefined, admin)).status).toBe(404);
    expect((await request(sys, 'GET', `/job/${id}`, undefined, admin)).status).toBe(404);
    expect((await request(sys, 'GET', '/no/such/path', undefined, admin)).status).toBe(404);
    expect((await request(sys, 'GET', '/agent')).status).toBe(401);
    const text = await scrape();

    const byRoute = { method: 'GET', route: '/job/:id', status_code: '404' };
    expect(sample(text, 'osapi_http_requests_total', byRoute)).toBe(2);
    expect(sample(text, 'osapi_http_request_duration_seconds_count', byRoute)).toBe(2);
    expect(
      sample(text, 'osapi_http_request_duration_seconds_bucket', { ...byRoute, le: '+Inf' }),
    ).toBe(2);
    // One series for every unknown path, and no job id in any label.
    expect(
      sample(text, 'osapi_http_requests_total', {
        route: 'unmatched',
        status_code: '404',
      }),
    ).toBe(1);
    expect(text).not.toContain(id);
    expect(text).not.toContain('/no/such/path');
    expect(sample(text, 'osapi_http_requests_total', { route: '/agent', status_code: '401' })).toBe(
      1,
    );
  });

  it('reports Ready agents, jobs by operation and status, and job round trips', async () => {
    let text = await scrape();
    expect(sample(text, 'osapi_agents_ready')).toBe(1);
    expect(sample(text, 'osapi_agents_registered')).toBe(1);
    expect(sample(text, 'osapi_jobs', { operation: 'command.shell.execute' })).toBeUndefined();

    const ran = await post(sys, '/node/group:web/command/shell', { command: 'true' }, admin);
    expect(ran.status).toBe(202);
    // The jobs view follows the bucket by a watch: the final status event may land just after the answer.
    const completed = { operation: 'command.shell.execute', status: 'completed' };
    text = await waitFor('the job counted as completed', async () => {
      const t = await scrape();
      return sample(t, 'osapi_jobs', completed) === 1 ? t : undefined;
    });
    expect(sample(text, 'osapi_jobs', { operation: 'command.shell.execute' })).toBe(1);
    const rt = { operation: 'command.shell.execute', complete: 'true' };
    expect(sample(text, 'osapi_job_round_trip_seconds_count', rt)).toBe(1);
    expect(sample(text, 'osapi_job_round_trip_seconds_sum', rt)).toBeGreaterThan(0);

    // Counters that start at zero are there from the first scrape.
    expect(sample(text, 'osapi_nats_reconnects_total')).toBe(0);
    expect(sample(text, 'osapi_audit_write_failures_total')).toBe(0);
    // And the process's own.
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('is open to anyone, and the SDK reads it as text', async () => {
    const { status, body } = await new OsapiClient({ url: sys.url }).metrics();
    expect(status).toBe(200);
    expect(sample(body, 'osapi_agents_ready')).toBe(1);
  });
});

describe('metrics registries', () => {
  it('are per server: one server counts nothing of another', async () => {
    const a = createApiMetrics();
    const b = createApiMetrics();
    a.observeRequest('GET', '/health', 200, 0.001);
    a.auditWriteFailed();
    a.natsReconnected();
    const ta = await a.registry.metrics();
    const tb = await b.registry.metrics();
    expect(sample(ta, 'osapi_http_requests_total', { route: '/health' })).toBe(1);
    expect(sample(ta, 'osapi_audit_write_failures_total')).toBe(1);
    expect(sample(ta, 'osapi_nats_reconnects_total')).toBe(1);
    expect(sample(tb, 'osapi_http_requests_total', { route: '/health' })).toBeUndefined();
    expect(sample(tb, 'osapi_audit_write_failures_total')).toBe(0);
    expect(sample(tb, 'osapi_agents_ready')).toBe(0);
  });
});
