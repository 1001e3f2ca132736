// POST /job/{id}/cancel: kills the job's process groups on every agent still
// running it, keeps the partial output, marks those hosts `cancelled`, and
// keeps hosts that have not started from starting. Also the per-host states a
// command can end in, as GET /job/{id} shows them.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AnyJson,
  post,
  request,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';
import { isDead, type TempDir, tempDir, waitFor } from './helpers.js';

const UP = ['c-01', 'c-02'];

let sys: TestSystem;
let admin: string;
let dir: TempDir;

beforeAll(async () => {
  sys = await startTestSystem();
  // c-02 runs one job at a time, so a second job waits for its slot there.
  await sys.startAgent('c-01', { group: 'web' });
  await sys.startAgent('c-02', { group: 'web' }, { max_jobs: 1 });
  await sys.waitForAgents(UP);
  admin = await sys.token();
  dir = tempDir('cancel');
});
afterAll(async () => {
  await sys?.stop();
  dir?.remove();
});

const getJob = async (id: string): Promise<AnyJson> =>
  (await request(sys, 'GET', `/job/${id}`, undefined, admin)).body;

/** Waits until every listed host shows `running` in GET /job/{id}. */
function running(id: string, hosts: string[]) {
  return waitFor(`${hosts.join(',')} running job ${id}`, async () => {
    const j = await getJob(id);
    return hosts.every((h) => j.agent_states?.[h]?.status === 'running') ? j : false;
  });
}

/** A shell command that prints, records the pid of a child it waits on, and would run long. */
function longRun(tag: string): string {
  const pidFile = join(dir.path, `${tag}-$(hostname)-$$.pid`);
  return `echo started; sleep 60 & echo $! > "${pidFile}"; echo "$!" >&2; wait; echo never`;
}

describe('POST /job/{id}/cancel', () => {
  it('kills a broadcast on every host, keeps the partial output, and the hosts end cancelled', async () => {
    const sub = await post(
      sys,
      '/node/_all/command/shell?async=true',
      { command: longRun('bcast'), timeout: 120 },
      admin,
    );
    expect(sub.status).toBe(202);
    const id = sub.body.job_id;
    await running(id, UP);
    // Both children are running (their pids were written: a file is read
    // once its line is whole, since the shell creates it before it writes).
    const childPids = await waitFor('both pid files', () => {
      const lines = readdirSync(dir.path)
        .filter((f) => f.startsWith('bcast-'))
        .map((f) => readFileSync(join(dir.path, f), 'utf8'));
      return lines.length === UP.length && lines.every((l) => /^\d+\n$/.test(l))
        ? lines.map(Number)
        : false;
    });
    for (const pid of childPids) expect(isDead(pid)).toBe(false);

    const r = await request(sys, 'POST', `/job/${id}/cancel`, undefined, admin);
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(id);
    for (const h of UP) {
      expect(r.body.agent_states[h].status).toBe('cancelled');
      expect(r.body.responses[h].state).toBe('cancelled');
      // What the command printed before it was killed is kept.
      expect(r.body.responses[h].data.stdout).toBe('started\n');
      expect(r.body.responses[h].data.stdout).not.toMatch(/never/);
      expect(r.body.responses[h].data.end).toBe('cancelled');
      expect(r.body.responses[h].error).toMatch(/cancelled/);
    }
    expect(r.body.status).toBe('failed');
    // The whole process group went: the backgrounded children too.
    await waitFor('the children to die', () => childPids.every(isDead));
    const cancelEvent = r.body.timeline.find((e: AnyJson) => e.event === 'cancelled');
    expect(cancelEvent).toMatchObject({
      hostname: '_api',
      message: 'cancelled by tester@example.com',
    });

    // A second cancel: the job has ended, nothing is left to cancel.
    const again = await request(sys, 'POST', `/job/${id}/cancel`, undefined, admin);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 409, reason: 'job_finished' });
  });

  it('a job waiting for a slot on its host never starts there once cancelled', async () => {
    const first = await post(
      sys,
      '/node/c-02/command/shell?async=true',
      { command: longRun('slot'), timeout: 120 },
      admin,
    );
    await running(first.body.job_id, ['c-02']);
    const marker = join(dir.path, 'queued-ran');
    const queued = await post(
      sys,
      '/node/c-02/command/shell?async=true',
      { command: `touch "${marker}"`, timeout: 10 },
      admin,
    );
    // Received by c-02 and waiting for its one slot.
    await waitFor('the queued job to be received', async () => {
      const j = await getJob(queued.body.job_id);
      return j.timeline.some((e: AnyJson) => e.event === 'acknowledged') ? j : false;
    });
    const r = await request(sys, 'POST', `/job/${queued.body.job_id}/cancel`, undefined, admin);
    expect(r.status).toBe(200);
    expect(r.body.agent_states['c-02'].status).toBe('cancelled');

    // Free the slot: the queued job must still not run.
    const stop = await request(sys, 'POST', `/job/${first.body.job_id}/cancel`, undefined, admin);
    expect(stop.status).toBe(200);
    expect(stop.body.agent_states['c-02'].status).toBe('cancelled');
    // The queued job's result is stored once the slot is free, after the answer above.
    const after = await waitFor('the queued job to be answered', async () => {
      const j = await getJob(queued.body.job_id);
      return j.responses['c-02'] !== undefined && j;
    });
    expect(after.responses['c-02']).toMatchObject({ state: 'cancelled' });
    expect(after.responses['c-02'].error).toMatch(/before this host started it/);
    expect(after.timeline.some((e: AnyJson) => e.event === 'started')).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });

  it('refuses an unknown job (404), a malformed id (400), no token (401), and a token without command:execute (403)', async () => {
    const unknown = await request(
      sys,
      'POST',
      '/job/0190a8b2-0000-7000-8000-000000000001/cancel',
      undefined,
      admin,
    );
    expect(unknown.status).toBe(404);
    const bad = await request(sys, 'POST', '/job/not-a-uuid/cancel', undefined, admin);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/id/);
    const anon = await request(sys, 'POST', '/job/0190a8b2-0000-7000-8000-000000000001/cancel');
    expect(anon.status).toBe(401);
    const reader = await sys.token(['read']);
    const denied = await request(
      sys,
      'POST',
      '/job/0190a8b2-0000-7000-8000-000000000001/cancel',
      undefined,
      reader,
    );
    expect(denied.status).toBe(403);
    expect(denied.body.error).toMatch(/command:execute/);
  });
});

describe('per-host states', () => {
  it('succeeded, failed (non-zero exit) and timed_out, in the command answer and in GET /job/{id}', async () => {
    const ok = await post(sys, '/node/c-01/command/shell', { command: 'true' }, admin);
    expect(ok.body.results[0]).toMatchObject({ state: 'succeeded', exit_code: 0 });
    const bad = await post(sys, '/node/c-01/command/shell', { command: 'exit 3' }, admin);
    expect(bad.body.results[0]).toMatchObject({ state: 'failed', exit_code: 3 });
    const slow = await post(
      sys,
      '/node/c-01/command/shell',
      { command: 'sleep 10', timeout: 1 },
      admin,
    );
    expect(slow.body.results[0]).toMatchObject({ state: 'timed_out' });

    for (const [res, state, status] of [
      [ok, 'succeeded', 'completed'],
      [bad, 'failed', 'failed'],
      [slow, 'timed_out', 'failed'],
    ] as const) {
      const j = await waitFor('the job to be final', async () => {
        const body = await getJob(res.body.job_id);
        return body.status === status ? body : false;
      });
      expect(j.agent_states['c-01'].status).toBe(state);
    }
  });
});
