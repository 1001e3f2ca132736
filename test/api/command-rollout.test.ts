// Rate-controlled broadcasts: max_concurrency (a number or a percentage of the
// matching agents) bounds how many hosts run at once, max_errors stops the
// rollout once exceeded and marks the rest `skipped`. The agents' own
// started/completed events are the proof.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AnyJson,
  post,
  request,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';
import { waitFor } from './helpers.js';

const HOSTS = ['r-01', 'r-02', 'r-03'];

let sys: TestSystem;
let admin: string;

beforeAll(async () => {
  sys = await startTestSystem();
  for (const h of HOSTS) await sys.startAgent(h, { group: 'roll' });
  await sys.waitForAgents(HOSTS);
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

const getJob = async (id: string): Promise<AnyJson> =>
  (await request(sys, 'GET', `/job/${id}`, undefined, admin)).body;

/** Each host's [started, ended] from the job's timeline, once every host has ended. */
async function runIntervals(
  id: string,
): Promise<Array<{ host: string; from: number; to: number }>> {
  const job = await waitFor('every host to end', async () => {
    const j = await getJob(id);
    const ended = j.timeline.filter(
      (e: AnyJson) => e.event === 'completed' || e.event === 'failed',
    ).length;
    return ended >= HOSTS.length ? j : false;
  });
  return HOSTS.flatMap((host) => {
    const start = job.timeline.find((e: AnyJson) => e.hostname === host && e.event === 'started');
    const end = job.timeline.find(
      (e: AnyJson) => e.hostname === host && (e.event === 'completed' || e.event === 'failed'),
    );
    return start && end
      ? [{ host, from: Date.parse(start.timestamp), to: Date.parse(end.timestamp) }]
      : [];
  });
}

/** The most hosts running at the same instant. */
function peak(intervals: Array<{ from: number; to: number }>): number {
  const edges = intervals.flatMap((i) => [
    { t: i.from, d: 1 },
    { t: i.to, d: -1 },
  ]);
  // An end and a start at the same millisecond do not overlap.
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let now = 0;
  let most = 0;
  for (const e of edges) {
    now += e.d;
    most = Math.max(most, now);
  }
  return most;
}

describe('max_concurrency', () => {
  it('1: never two hosts running at once, and every host still runs it', async () => {
    const r = await post(
      sys,
      '/node/_all/command/shell',
      { command: 'sleep 0.3; echo done', max_concurrency: 1 },
      admin,
    );
    expect(r.status).toBe(202);
    expect(r.body.results.map((x: AnyJson) => [x.hostname, x.state, x.stdout])).toEqual(
      HOSTS.map((h) => [h, 'succeeded', 'done\n']),
    );
    const intervals = await runIntervals(r.body.job_id);
    expect(intervals).toHaveLength(3);
    expect(peak(intervals)).toBe(1);
    const job = await getJob(r.body.job_id);
    expect(job.status).toBe('completed');
  });

  it('"50%" of 3 agents lets 2 run at once (rounded up), never 3', async () => {
    const r = await post(
      sys,
      '/node/group:roll/command/exec',
      { command: 'sleep', args: ['0.5'], max_concurrency: '50%' },
      admin,
    );
    expect(r.status).toBe(202);
    const intervals = await runIntervals(r.body.job_id);
    expect(intervals).toHaveLength(3);
    expect(peak(intervals)).toBeLessThanOrEqual(2);
    const job = await getJob(r.body.job_id);
    expect(job.timeline[0].message).toMatch(/max_concurrency 2/);
  });

  it('async: answers at once, the rollout goes on, GET /job/{id} shows each host', async () => {
    const r = await post(
      sys,
      '/node/_all/command/shell?async=true',
      { command: 'echo hi', max_concurrency: 1 },
      admin,
    );
    expect(r.status).toBe(202);
    expect(r.body.expected_hosts).toEqual(HOSTS);
    const done = await waitFor('the rollout to complete', async () => {
      const j = await getJob(r.body.job_id);
      return j.status === 'completed' ? j : false;
    });
    for (const h of HOSTS) expect(done.agent_states[h].status).toBe('succeeded');
  });
});

describe('max_errors', () => {
  it('1: stops after the second failure; the host not started is skipped', async () => {
    const r = await post(
      sys,
      '/node/_all/command/shell',
      { command: 'exit 1', max_concurrency: 1, max_errors: 1 },
      admin,
    );
    expect(r.status).toBe(202);
    const states = Object.fromEntries(r.body.results.map((x: AnyJson) => [x.hostname, x.state]));
    expect(states).toEqual({ 'r-01': 'failed', 'r-02': 'failed', 'r-03': 'skipped' });
    const skipped = r.body.results.find((x: AnyJson) => x.hostname === 'r-03');
    expect(skipped.error).toMatch(/max_errors 1/);
    const job = await getJob(r.body.job_id);
    expect(job.agent_states['r-03'].status).toBe('skipped');
    // r-03 never started it.
    expect(job.timeline.some((e: AnyJson) => e.hostname === 'r-03' && e.event === 'started')).toBe(
      false,
    );
    expect(job.status).toBe('failed');
  });

  it('"0%" stops at the first failure', async () => {
    const r = await post(
      sys,
      '/node/_all/command/shell',
      { command: 'exit 2', max_concurrency: 1, max_errors: '0%' },
      admin,
    );
    const states = r.body.results.map((x: AnyJson) => x.state);
    expect(states).toEqual(['failed', 'skipped', 'skipped']);
  });
});

describe('cancel during a rollout', () => {
  it('kills the running host, and the hosts not yet told never start', async () => {
    const r = await post(
      sys,
      '/node/_all/command/shell?async=true',
      { command: 'echo begun; sleep 30', max_concurrency: 1, timeout: 60 },
      admin,
    );
    const id = r.body.job_id;
    await waitFor('the first host running', async () => {
      const j = await getJob(id);
      return j.agent_states['r-01']?.status === 'running' ? j : false;
    });
    const c = await request(sys, 'POST', `/job/${id}/cancel`, undefined, admin);
    expect(c.status).toBe(200);
    const job = await waitFor('every host cancelled', async () => {
      const j = await getJob(id);
      return HOSTS.every((h) => j.agent_states[h]?.status === 'cancelled') ? j : false;
    });
    expect(job.responses['r-01'].data.stdout).toBe('begun\n');
    for (const h of ['r-02', 'r-03']) {
      expect(job.timeline.some((e: AnyJson) => e.hostname === h && e.event === 'started')).toBe(
        false,
      );
    }
  });
});

describe('POST /job with rate control', () => {
  it('takes max_concurrency and max_errors in the command data', async () => {
    const r = await request(
      sys,
      'POST',
      '/job',
      {
        operation: {
          type: 'command.shell.execute',
          data: { command: 'sleep 0.2', max_concurrency: 1 },
        },
        target_hostname: '_all',
      },
      admin,
    );
    expect(r.status).toBe(201);
    const intervals = await runIntervals(r.body.job_id);
    expect(peak(intervals)).toBe(1);
    const job = await getJob(r.body.job_id);
    // The limits are not part of the command's data.
    expect(job.operation.data).not.toHaveProperty('max_concurrency');
  });
});

describe('validation', () => {
  it.each([
    [{ max_concurrency: 0 }, 'max_concurrency'],
    [{ max_concurrency: -1 }, 'max_concurrency'],
    [{ max_concurrency: 1.5 }, 'max_concurrency'],
    [{ max_concurrency: 'abc' }, 'max_concurrency'],
    [{ max_concurrency: '150%' }, 'max_concurrency'],
    [{ max_concurrency: '0%' }, 'max_concurrency'],
    [{ max_concurrency: true }, 'max_concurrency'],
    [{ max_errors: -1 }, 'max_errors'],
    [{ max_errors: '101%' }, 'max_errors'],
    [{ max_errors: '5' }, 'max_errors'],
  ])('%j → 400 naming %s', async (extra, field) => {
    const r = await post(sys, '/node/_all/command/shell', { command: 'true', ...extra }, admin);
    expect(r.status).toBe(400);
    expect(r.body.reason).toBe('invalid_request');
    expect(r.body.error).toContain(field);
    expect(r.body.error).toMatch(/number|percentage/);
  });
});
