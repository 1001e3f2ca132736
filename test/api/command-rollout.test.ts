// Rate-controlled broadcasts: max_concurrency (a number or a percentage of the
// matching agents) bounds how many hosts run at once, max_errors stops the
// rollout once exceeded and marks the rest `skipped`. Each run's own start
// and end, written by the command itself, are the proof.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AnyJson,
  post,
  request,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';
import { type TempDir, tempDir, waitFor } from './helpers.js';

const HOSTS = ['r-01', 'r-02', 'r-03'];

let sys: TestSystem;
let admin: string;
let dir: TempDir;

beforeAll(async () => {
  dir = tempDir('rollout');
  sys = await startTestSystem();
  for (const h of HOSTS) await sys.startAgent(h, { group: 'roll' });
  await sys.waitForAgents(HOSTS);
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
  dir?.remove();
});

const getJob = async (id: string): Promise<AnyJson> =>
  (await request(sys, 'GET', `/job/${id}`, undefined, admin)).body;

/**
 * GET /job/{id} once its status is final. GET /job reads the jobs view,
 * which hears results a moment after the command route that answered.
 */
const endedJob = (id: string): Promise<AnyJson> =>
  waitFor(`job ${id} to end`, async () => {
    const j = await getJob(id);
    return j.status !== undefined && !['submitted', 'processing'].includes(j.status) && j;
  });

let logs = 0;

/**
 * A shell command that writes its own start and end to a log, on the one
 * clock all test agents share. The timeline's closing event is no measure of
 * the end: it is written just after the result, and the rollout starts the
 * next host as soon as it sees the result.
 */
function timed(command: string): { command: string; log: string } {
  const log = join(dir.path, `runs-${++logs}`);
  const stamp = (what: string) => `echo "$$ ${what} $(date +%s%N)" >> ${log}`;
  return { command: `${stamp('start')}; ${command}; ${stamp('end')}`, log };
}

/** Each run's [start, end] from its log, once `count` runs have ended. */
async function runIntervals(log: string, count = HOSTS.length) {
  const lines = await waitFor(`${count} runs to end`, () => {
    let text: string;
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      return false;
    }
    const all = text.trim().split('\n');
    return all.filter((l) => l.includes(' end ')).length >= count && all;
  });
  const runs = new Map<string, { from: number; to: number }>();
  for (const line of lines) {
    const [pid = '', what, ns = '0'] = line.split(' ');
    const run = runs.get(pid) ?? { from: Number.NaN, to: Number.NaN };
    run[what === 'start' ? 'from' : 'to'] = Number(BigInt(ns) / 1000n) / 1000;
    runs.set(pid, run);
  }
  return [...runs.values()];
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
    const run = timed('sleep 0.3; echo done');
    const r = await post(
      sys,
      '/node/_all/command/shell',
      { command: run.command, max_concurrency: 1 },
      admin,
    );
    expect(r.status).toBe(202);
    expect(r.body.results.map((x: AnyJson) => [x.hostname, x.state, x.stdout])).toEqual(
      HOSTS.map((h) => [h, 'succeeded', 'done\n']),
    );
    const intervals = await runIntervals(run.log);
    expect(intervals).toHaveLength(3);
    expect(peak(intervals)).toBe(1);
    const job = await endedJob(r.body.job_id);
    expect(job.status).toBe('completed');
  });

  it('"50%" of 3 agents lets 2 run at once (rounded up), never 3', async () => {
    const run = timed('sleep 0.5');
    const r = await post(
      sys,
      '/node/group:roll/command/shell',
      { command: run.command, max_concurrency: '50%' },
      admin,
    );
    expect(r.status).toBe(202);
    const intervals = await runIntervals(run.log);
    expect(intervals).toHaveLength(3);
    expect(peak(intervals)).toBeLessThanOrEqual(2);
    const job = await endedJob(r.body.job_id);
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
    const job = await endedJob(r.body.job_id);
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
    // `running` is written as the agent starts the shell, before the shell has printed anything:
    // a cancel sent then can kill it before `begun` (a loaded machine is slow to run the shell).
    // The marker is created only after `begun` is in the pipe, and the runner keeps what was
    // written before the kill (test/exec/run-command.test.ts), so cancel once the marker exists.
    const said = join(dir.path, 'rollout-begun');
    const r = await post(
      sys,
      '/node/_all/command/shell?async=true',
      { command: `echo begun; : > '${said}'; sleep 30`, max_concurrency: 1, timeout: 60 },
      admin,
    );
    const id = r.body.job_id;
    await waitFor('the first host running', async () => {
      const j = await getJob(id);
      return j.agent_states['r-01']?.status === 'running' ? j : false;
    });
    await waitFor('the command to print begun', () => existsSync(said));
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
    const run = timed('sleep 0.2');
    const r = await request(
      sys,
      'POST',
      '/job',
      {
        operation: {
          type: 'command.shell.execute',
          data: { command: run.command, max_concurrency: 1 },
        },
        target_hostname: '_all',
      },
      admin,
    );
    expect(r.status).toBe(201);
    const intervals = await runIntervals(run.log);
    expect(peak(intervals)).toBe(1);
    const job = await endedJob(r.body.job_id);
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
