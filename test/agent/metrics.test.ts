// The agent's own metrics port (agent.metrics_port): a command running shows
// in the gauge, a timed-out one is counted as killed, a truncated output is
// counted per stream, and run durations are kept by how the run ended.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentProcess } from '../../src/agent/start.js';
import { waitFor } from '../api/helpers.js';
import { sample } from '../support/prometheus.js';
import { post, startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let admin: string;
let agent: AgentProcess;

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

beforeAll(async () => {
  sys = await startTestSystem();
  agent = await sys.startAgent(
    'metrics-01',
    {},
    { metrics_port: await freePort(), max_output_bytes: 64 },
  );
  await sys.startAgent('quiet-01');
  await sys.waitForAgents(['metrics-01', 'quiet-01']);
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

async function scrape(): Promise<string> {
  if (!agent.metricsUrl) throw new Error('the agent serves no metrics');
  const res = await fetch(agent.metricsUrl);
  expect(res.status).toBe(200);
  return res.text();
}

const host = { hostname: 'metrics-01' };

describe('agent metrics port', () => {
  it('starts at zero', async () => {
    const text = await scrape();
    expect(sample(text, 'osapi_agent_jobs_running', host)).toBe(0);
    expect(sample(text, 'osapi_agent_jobs_killed_on_timeout_total', host)).toBe(0);
    expect(sample(text, 'osapi_agent_truncated_outputs_total', { stream: 'stdout' })).toBe(0);
  });

  it('shows a running command, then counts it killed on timeout', async () => {
    const answer = post(
      sys,
      '/node/metrics-01/command/shell',
      { command: 'sleep 30', timeout: 1 },
      admin,
    );
    // Seen while it runs: the gauge is live, not computed after the fact.
    await waitFor('the running gauge at 1', async () =>
      sample(await scrape(), 'osapi_agent_jobs_running', host) === 1 ? true : undefined,
    );
    const r = await answer;
    expect(r.status).toBe(202);
    expect(r.body.results[0]).toMatchObject({ hostname: 'metrics-01', exit_code: 124 });

    const text = await scrape();
    expect(sample(text, 'osapi_agent_jobs_running', host)).toBe(0);
    expect(sample(text, 'osapi_agent_jobs_killed_on_timeout_total', host)).toBe(1);
    expect(sample(text, 'osapi_agent_job_run_duration_seconds_count', { end: 'timed_out' })).toBe(
      1,
    );
    const seconds = sample(text, 'osapi_agent_job_run_duration_seconds_sum', { end: 'timed_out' });
    expect(seconds).toBeGreaterThanOrEqual(0.9);
  });

  it('counts truncated outputs per stream, and normal ends by how they ended', async () => {
    const r = await post(
      sys,
      '/node/metrics-01/command/shell',
      { command: 'head -c 1000 /dev/zero | tr "\\0" x; echo err >&2' },
      admin,
    );
    expect(r.body.results[0]).toMatchObject({ stdout_truncated: true, stderr_truncated: false });
    const text = await scrape();
    expect(sample(text, 'osapi_agent_truncated_outputs_total', { stream: 'stdout' })).toBe(1);
    expect(sample(text, 'osapi_agent_truncated_outputs_total', { stream: 'stderr' })).toBe(0);
    expect(sample(text, 'osapi_agent_job_run_duration_seconds_count', { end: 'exited' })).toBe(1);
    // The timed-out run is still the only one counted as killed.
    expect(sample(text, 'osapi_agent_jobs_killed_on_timeout_total', host)).toBe(1);
  });

  it('serves nothing but GET /metrics, and nothing at all when the port is 0', async () => {
    const url = new URL(agent.metricsUrl ?? '');
    url.pathname = '/other';
    expect((await fetch(url)).status).toBe(404);
    expect(sys.agents.get('quiet-01')?.metricsUrl).toBeUndefined();
  });

  it('refuses a port in use with a message that says which key to change', async () => {
    const port = Number(new URL(agent.metricsUrl ?? '').port);
    await expect(sys.startAgent('clash-01', {}, { metrics_port: port })).rejects.toThrow(
      /port is in use.*agent\.metrics_port/,
    );
  });
});
