// `?async=true` on the command routes: 202 with the job id and the agents it
// went to at once, before the command ends; GET /job/{id} gives the rest. The
// query string is validated like a body: a non-boolean `async` or an unknown
// parameter is a 400.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, request, startTestSystem, type TestSystem } from '../support/system.js';
import { resultsClosed, waitFor } from './helpers.js';

const UP = ['a-01', 'a-02'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let sys: TestSystem;
let token: string;

beforeAll(async () => {
  sys = await startTestSystem();
  await sys.startAgent('a-01', { group: 'web' });
  await sys.startAgent('a-02', { group: 'db' });
  await sys.waitForAgents(UP);
  token = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

const getJob = (id: string) => request(sys, 'GET', `/job/${id}`, undefined, token);

describe('async=true', () => {
  it('answers 202 before a sleep 2 ends; the job then completes with the output in GET /job/{id}', async () => {
    const events: string[] = [];
    const sent = Date.now();
    const r = await post(
      sys,
      '/node/_all/command/shell?async=true',
      { command: 'sleep 2; echo done', timeout: 10 },
      token,
    );
    const answeredAt = Date.now();
    events.push('202');
    expect(r.status).toBe(202);
    expect(r.body.job_id).toMatch(UUID);
    expect(r.body.results).toEqual([]);
    expect(r.body.expected_hosts).toEqual(UP);
    // The answer did not wait for the command (it sleeps 2 s).
    expect(answeredAt - sent).toBeLessThan(2000);

    // Right after the 202 the job is still running: nobody has answered yet.
    const early = await getJob(r.body.job_id);
    expect(early.status).toBe(200);
    expect(['submitted', 'processing']).toContain(early.body.status);
    expect(early.body.responses).toEqual({});
    events.push(`job ${early.body.status}`);

    const done = await waitFor(
      'the async job to complete',
      async () => {
        const j = await getJob(r.body.job_id);
        return j.body.status === 'completed' && resultsClosed(j.body) && j.body;
      },
      10_000,
      50,
    );
    events.push('job completed');
    expect(events).toEqual(['202', `job ${early.body.status}`, 'job completed']);

    expect(Object.keys(done.responses).sort()).toEqual(UP);
    for (const host of UP) {
      expect(done.responses[host].data).toMatchObject({ stdout: 'done\n', exit_code: 0 });
      expect(done.agent_states[host].status).toBe('succeeded');
    }
    // Each host's completion is recorded (same machine, same clock) after the 202 reached us.
    const completions = done.timeline.filter((e: { event: string }) => e.event === 'completed');
    expect(completions.map((e: { hostname: string }) => e.hostname).sort()).toEqual(UP);
    for (const e of completions) expect(Date.parse(e.timestamp)).toBeGreaterThan(answeredAt);
  });

  it('exec with a label names the matching agent; a hostname names that host; _any names none', async () => {
    const byLabel = await post(
      sys,
      '/node/group:web/command/exec?async=true',
      { command: 'true' },
      token,
    );
    expect(byLabel.status).toBe(202);
    expect(byLabel.body.expected_hosts).toEqual(['a-01']);

    const byHost = await post(
      sys,
      '/node/a-02/command/exec?async=true',
      { command: 'echo', args: ['x'] },
      token,
    );
    expect(byHost.status).toBe(202);
    expect(byHost.body.expected_hosts).toEqual(['a-02']);
    const hostJob = await waitFor('the host job to complete', async () => {
      const j = await getJob(byHost.body.job_id);
      return j.body.status === 'completed' ? j.body : false;
    });
    expect(hostJob.hostname).toBe('a-02');
    expect(hostJob.result).toMatchObject({ stdout: 'x\n', exit_code: 0 });

    const any = await post(sys, '/node/_any/command/exec?async=true', { command: 'true' }, token);
    expect(any.status).toBe(202);
    expect(any.body.expected_hosts).toEqual([]);
  });

  it('no matching agent: the same 404 as without async, and nothing waits', async () => {
    const r = await post(
      sys,
      '/node/group:nowhere/command/shell?async=true',
      { command: 'true' },
      token,
    );
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ code: 404, reason: 'no_matching_agent' });
    const sync = await post(sys, '/node/group:nowhere/command/shell', { command: 'true' }, token);
    expect(sync.body.reason).toBe(r.body.reason);
  });

  it('async=false waits as before', async () => {
    const r = await post(
      sys,
      '/node/_all/command/shell?async=false',
      { command: 'echo hi' },
      token,
    );
    expect(r.status).toBe(202);
    expect(r.body.results).toHaveLength(2);
    expect(r.body.expected_hosts).toBeUndefined();
  });
});

describe('query string and auth', () => {
  it.each([
    ['async=maybe', 'async'],
    ['async=1', 'async'],
    ['async=true&async=false', 'async'],
    ['foo=1', 'foo'],
    ['async=true&foo=1', 'foo'],
  ])('?%s → 400 naming %s', async (qs, field) => {
    const r = await post(sys, `/node/_all/command/exec?${qs}`, { command: 'true' }, token);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 400, reason: 'invalid_request' });
    expect(r.body.error).toContain(field);
  });

  it('no token → 401', async () => {
    const r = await post(sys, '/node/_all/command/shell?async=true', { command: 'true' });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ code: 401, reason: 'unauthenticated' });
  });
});
