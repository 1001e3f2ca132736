// Broadcast completion: `_all` and label targets return as soon as every
// matching agent answered; an agent that is registered but silent is waited
// for until the command's timeout plus the margin, then named as not answering.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type JobStore,
  readExpectedHosts,
  readJob,
  readStatusEvents,
} from '../../src/job/store.js';
import { registryKey } from '../../src/names/names.js';
import { bucketsOf } from '../support/buckets.js';
import {
  type AnyJson,
  post,
  request,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';
import { plantAgent, storeFor, waitFor } from './helpers.js';

// Short, to keep these tests quick, yet long enough for every real agent to
// answer within timeout + margin on a loaded machine.
const MARGIN_MS = 1500;
const UP = ['b-01', 'b-02', 'b-03'];

let sys: TestSystem;
let token: string;
let store: JobStore;

beforeAll(async () => {
  sys = await startTestSystem({ resultMarginMs: MARGIN_MS });
  await sys.startAgent('b-01', { group: 'web.dev' });
  await sys.startAgent('b-02', { group: 'web.prod' });
  await sys.startAgent('b-03', { group: 'db' });
  await sys.waitForAgents(UP);
  token = await sys.token();
  store = await storeFor(sys);
});
afterAll(async () => {
  await sys?.stop();
});

/** Registry entries written by a test, removed after it so the next one starts with UP only. */
const planted: string[] = [];
afterEach(async () => {
  for (const h of planted.splice(0)) await (await bucketsOf(store)).registry.delete(registryKey(h));
  await sys.waitForAgents(UP);
});

/** A heartbeat as an agent would write it, for a hostname no running agent has; removed after the test. */
async function plantSilentAgent(hostname: string, labels: Record<string, string> = {}) {
  planted.push(hostname);
  await plantAgent(store, hostname, labels);
}

const hosts = (body: { results: Array<{ hostname: string }> }) =>
  body.results.map((r) => r.hostname).sort();

describe('with every matching agent up', () => {
  it('_all answers with one result per agent, before the deadline', async () => {
    const timeout = 10;
    const started = Date.now();
    const r = await post(sys, '/node/_all/command/shell', { command: 'echo hi', timeout }, token);
    const elapsed = Date.now() - started;
    expect(r.status).toBe(202);
    expect(hosts(r.body)).toEqual(UP);
    for (const res of r.body.results) {
      expect(res).toMatchObject({ stdout: 'hi\n', exit_code: 0, status: 'completed' });
      expect(res.error).toBeUndefined();
    }
    // It did not wait for the deadline (timeout + margin): every agent had answered.
    expect(elapsed).toBeLessThan(timeout * 1000);

    // The job expected exactly these agents, and each recorded its completion.
    expect((await readExpectedHosts(store, r.body.job_id))?.sort()).toEqual(UP);
    // Kept beside the definition, so that agents reading it do not read the fleet's names.
    expect((await readJob(store, r.body.job_id))?.expected_hosts).toBeUndefined();
    const events = await waitFor('a completed event per agent', async () => {
      const ev = await readStatusEvents(store, r.body.job_id);
      return ev.filter((e) => e.event === 'completed').length === UP.length && ev;
    });
    // The submission is not stored as an event; the timeline shows it once, from the definition.
    expect(events.filter((e) => e.event === 'submitted')).toHaveLength(0);
    expect(events.filter((e) => e.event === 'failed')).toHaveLength(0);
    const job = await request(sys, 'GET', `/job/${r.body.job_id}`, undefined, token);
    expect(job.body.timeline.filter((e: AnyJson) => e.event === 'submitted')).toEqual([
      {
        timestamp: job.body.created,
        event: 'submitted',
        hostname: '_api',
        message: `submitted by ${job.body.created_by} for _all`,
      },
    ]);
    expect(
      events
        .filter((e) => e.event === 'completed')
        .map((e) => e.hostname)
        .sort(),
    ).toEqual(UP);
  });

  it('a label answers with the agents under it only', async () => {
    const r = await post(sys, '/node/group:web/command/exec', { command: 'true' }, token);
    expect(r.status).toBe(202);
    expect(hosts(r.body)).toEqual(['b-01', 'b-02']);
    expect((await readExpectedHosts(store, r.body.job_id))?.sort()).toEqual(['b-01', 'b-02']);
  });
});

describe('with a registered agent that runs nothing', () => {
  it('_all answers at timeout + margin, naming the silent agent', async () => {
    await plantSilentAgent('ghost-01');
    await sys.waitForAgents([...UP, 'ghost-01']);

    const started = Date.now();
    const r = await post(
      sys,
      '/node/_all/command/shell',
      { command: 'echo hi', timeout: 1 },
      token,
    );
    const elapsed = Date.now() - started;
    expect(r.status).toBe(202);
    expect(hosts(r.body)).toEqual([...UP, 'ghost-01'].sort());
    expect(elapsed).toBeGreaterThanOrEqual(1000);

    const ghost = r.body.results.find((x: { hostname: string }) => x.hostname === 'ghost-01');
    expect(ghost).toMatchObject({ status: 'no_answer', exit_code: -1, stdout: '' });
    expect(ghost.error).toMatch(/no answer/);
    const answered = r.body.results.filter((x: { hostname: string }) => x.hostname !== 'ghost-01');
    expect(answered).toHaveLength(3);
    for (const res of answered) {
      expect(res).toMatchObject({ stdout: 'hi\n', exit_code: 0, status: 'completed' });
      expect(res.error).toBeUndefined();
    }
    expect((await readExpectedHosts(store, r.body.job_id))?.sort()).toEqual(
      [...UP, 'ghost-01'].sort(),
    );
  });

  it('a label target waits for the silent agent under it, not for the others', async () => {
    await plantSilentAgent('ghost-02', { group: 'web.stage' });
    await sys.waitForAgents([...UP, 'ghost-02']);
    const r = await post(
      sys,
      '/node/group:web/command/shell',
      { command: 'echo hi', timeout: 1 },
      token,
    );
    expect(r.status).toBe(202);
    expect(hosts(r.body)).toEqual(['b-01', 'b-02', 'ghost-02']);
    const byHost = Object.fromEntries(
      r.body.results.map((x: { hostname: string; status: string }) => [x.hostname, x.status]),
    );
    expect(byHost).toEqual({ 'b-01': 'completed', 'b-02': 'completed', 'ghost-02': 'no_answer' });
  });

  it('a label only silent agents match → 500 naming them and the job', async () => {
    await plantSilentAgent('ghost-03', { group: 'ghosts' });
    await sys.waitForAgents([...UP, 'ghost-03']);
    const r = await post(
      sys,
      '/node/group:ghosts/command/shell',
      { command: 'echo hi', timeout: 1 },
      token,
    );
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ code: 500, reason: 'no_agent_answered' });
    expect(r.body.error).toMatch(/no agent answered/);
    expect(r.body.missing).toEqual(['ghost-03']);
    expect(r.body.job_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body.details).toBe(`job_id: ${r.body.job_id}; missing: ghost-03`);
  });

  it('a real agent that died without deregistering is named as silent', async () => {
    // Start a fourth agent, keep its heartbeat, stop it, and put the heartbeat
    // back: what a crash leaves behind until the registry TTL expires.
    await sys.startAgent('b-04', { group: 'db' });
    await sys.waitForAgents([...UP, 'b-04']);
    const entry = await (await bucketsOf(store)).registry.get(registryKey('b-04'));
    expect(entry?.operation).toBe('PUT');
    await sys.stopAgent('b-04');
    await sys.waitForAgents(UP);
    planted.push('b-04');
    await (await bucketsOf(store)).registry.put(registryKey('b-04'), entry?.string() ?? '');
    await sys.waitForAgents([...UP, 'b-04']);

    const r = await post(
      sys,
      '/node/group:db/command/exec',
      { command: 'hostname', timeout: 1 },
      token,
    );
    expect(r.status).toBe(202);
    const byHost = Object.fromEntries(
      r.body.results.map((x: { hostname: string; status: string }) => [x.hostname, x.status]),
    );
    expect(byHost).toEqual({ 'b-03': 'completed', 'b-04': 'no_answer' });
  });
});
