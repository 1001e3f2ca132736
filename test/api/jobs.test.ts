import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendStatus, type JobStore, storeResponse } from '../../src/job/store.js';
import { registryKey } from '../../src/names/names.js';
import { bucketsOf } from '../support/buckets.js';
import { request, startTestSystem, type TestSystem } from '../support/system.js';
import { plantAgent, resultsClosed, storeFor, waitFor } from './helpers.js';

let sys: TestSystem;
let admin: string;
let store: JobStore;
let dir: string;

beforeAll(async () => {
  sys = await startTestSystem();
  await sys.startAgent('web-01', { group: 'web' });
  await sys.startAgent('web-02', { group: 'web' });
  await sys.waitForAgents(['web-01', 'web-02']);
  admin = await sys.token();
  store = await storeFor(sys);
  dir = mkdtempSync(join(tmpdir(), 'osapi-jobs-'));
});
afterAll(async () => {
  await sys?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const shell = (command: string) => ({ type: 'command.shell.execute', data: { command } });

/** Polls GET /job/{id} until its status is final and each result's closing event is in. */
function finalJob(id: string) {
  return waitFor(`job ${id} to finish`, async () => {
    const r = await request(sys, 'GET', `/job/${id}`, undefined, admin);
    const final = r.status === 200 && !['submitted', 'processing'].includes(r.body.status);
    return final && resultsClosed(r.body) && r.body;
  });
}

describe('POST /job', () => {
  it('creates a job at once and agents run it; GET /job/{id} tells the whole story', async () => {
    const r = await request(
      sys,
      'POST',
      '/job',
      { operation: shell('echo hi'), target_hostname: 'web-01' },
      admin,
    );
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: 'submitted' });
    expect(r.body.job_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number.isInteger(r.body.revision)).toBe(true);
    expect(Date.parse(r.body.timestamp)).not.toBeNaN();

    const job = await finalJob(r.body.job_id);
    expect(job).toMatchObject({
      id: r.body.job_id,
      status: 'completed',
      hostname: 'web-01',
      target_hostname: 'web-01',
      created_by: 'tester@example.com',
      operation: { type: 'command.shell.execute', data: { command: 'echo hi', timeout: 30 } },
    });
    expect(job.result).toMatchObject({ stdout: 'hi\n', exit_code: 0 });
    expect(job.responses['web-01']).toMatchObject({ status: 'completed', hostname: 'web-01' });
    expect(job.agent_states['web-01'].status).toBe('succeeded');
    expect(job.agent_states['web-01'].duration).toMatch(/^(\d+(d|h|m|s|ms))+$/);
    expect(job.timeline.map((e: { event: string }) => e.event)).toEqual([
      'submitted',
      'acknowledged',
      'started',
      'completed',
    ]);
  });

  it.each([
    [{ operation: { type: 'command.nope', data: {} }, target_hostname: '_any' }, /operation\.type/],
    [{ operation: shell(''), target_hostname: '_any' }, /operation\.data\.command/],
    [
      {
        operation: { type: 'command.exec.execute', data: { command: 'x', timeout: 999 } },
        target_hostname: '_any',
      },
      /operation\.data\.timeout/,
    ],
    [{ operation: shell('x') }, /target_hostname/],
    [{ operation: shell('x'), target_hostname: '_any', extra: 1 }, /extra/],
  ])('refuses %j with 400 naming the field', async (body, field) => {
    const r = await request(sys, 'POST', '/job', body, admin);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe(400);
    expect(r.body.error).toMatch(field);
  });

  it('refuses a bad target with 400', async () => {
    const r = await request(
      sys,
      'POST',
      '/job',
      { operation: shell('x'), target_hostname: 'a b' },
      admin,
    );
    expect(r.status).toBe(400);
    expect(r.body.reason).toBe('invalid_target');
  });

  it("needs the operation's own permission too: job:write alone runs no command", async () => {
    const write = await sys.token(['write']);
    const r = await request(
      sys,
      'POST',
      '/job',
      { operation: shell('id'), target_hostname: 'web-01' },
      write,
    );
    expect(r.status).toBe(403);
    expect(r.body.error).toMatch(
      /command:execute is required to make a command\.shell\.execute job/,
    );
    const direct = await sys.token(['write'], ['job:write', 'command:execute']);
    const ok = await request(
      sys,
      'POST',
      '/job',
      { operation: shell('true'), target_hostname: 'web-01' },
      direct,
    );
    expect(ok.status).toBe(201);
    const nodeRead = await request(
      sys,
      'POST',
      '/job',
      { operation: { type: 'node.os.get', data: {} }, target_hostname: 'web-01' },
      write,
    );
    expect(nodeRead.status).toBe(201);
  });

  it('needs job:write', async () => {
    const r = await request(
      sys,
      'POST',
      '/job',
      { operation: shell('x'), target_hostname: '_any' },
      await sys.token(['read']),
    );
    expect(r.status).toBe(403);
    expect(r.body.error).toMatch(/job:write/);
  });
});

describe('listing, counting, deleting and retrying', () => {
  it('partial_failure when one host out of three failed', async () => {
    // A third agent played by the test: registered, and it reports a failure.
    await plantAgent(store, 'web-03', { group: 'web' });
    // Listed and seen accepted: the job is sent only to accepted agents, and
    // the API follows enrollments apart from the registry.
    await sys.waitForAgents(['web-01', 'web-02', 'web-03']);
    const r = await request(
      sys,
      'POST',
      '/job',
      { operation: shell('true'), target_hostname: 'group:web' },
      admin,
    );
    expect(r.status).toBe(201);
    const id = r.body.job_id;
    const t = new Date().toISOString();
    await appendStatus(store, id, 'started', 'web-03');
    await storeResponse(store, {
      job_id: id,
      hostname: 'web-03',
      status: 'failed',
      data: null,
      error: 'disk on fire',
      started_at: t,
      finished_at: t,
    });
    await appendStatus(store, id, 'failed', 'web-03', { error: 'disk on fire' });
    const job = await finalJob(id);
    expect(job.status).toBe('partial_failure');
    expect(Object.keys(job.agent_states).sort()).toEqual(['web-01', 'web-02', 'web-03']);
    expect(job.agent_states['web-03']).toMatchObject({ status: 'failed', error: 'disk on fire' });
    expect(job.error).toMatch(/web-03: disk on fire/);
    await (await bucketsOf(store)).registry.delete(registryKey('web-03'));
  });

  it('GET /job lists newest first, filters by status, pages, and validates its query', async () => {
    const ids: string[] = [];
    for (const cmd of ['true', 'false', 'true']) {
      const r = await request(
        sys,
        'POST',
        '/job',
        { operation: shell(cmd), target_hostname: 'web-02' },
        admin,
      );
      ids.push(r.body.job_id);
      await finalJob(r.body.job_id);
    }
    const all = await request(sys, 'GET', '/job?limit=100', undefined, admin);
    expect(all.status).toBe(200);
    const listed = all.body.items.map((j: { id: string }) => j.id);
    expect(listed.slice(0, 3)).toEqual([...ids].reverse());
    expect(all.body.total_items).toBe(listed.length);

    const page = await request(sys, 'GET', '/job?limit=1&offset=1', undefined, admin);
    expect(page.body.items.map((j: { id: string }) => j.id)).toEqual([ids[1]]);
    expect(page.body.total_items).toBe(all.body.total_items);

    const completed = await request(
      sys,
      'GET',
      '/job?status=completed&limit=100',
      undefined,
      admin,
    );
    expect(completed.body.items.every((j: { status: string }) => j.status === 'completed')).toBe(
      true,
    );

    for (const q of ['status=weird', 'limit=0', 'limit=101', 'offset=-1', 'limit=abc']) {
      const bad = await request(sys, 'GET', `/job?${q}`, undefined, admin);
      expect(bad.status, q).toBe(400);
      expect(bad.body.code).toBe(400);
    }
  });

  it('GET /job/status counts by status and operation', async () => {
    const r = await request(sys, 'GET', '/job/status', undefined, admin);
    expect(r.status).toBe(200);
    const sum = Object.values(r.body.status_counts as Record<string, number>).reduce(
      (a, b) => a + b,
      0,
    );
    expect(sum).toBe(r.body.total_jobs);
    const ops = Object.values(r.body.operation_counts as Record<string, number>).reduce(
      (a, b) => a + b,
      0,
    );
    expect(ops).toBe(r.body.total_jobs);
    expect(r.body.operation_counts['command.shell.execute']).toBeGreaterThan(0);
    expect(r.body.dlq_count).toBe(0);
  });

  it('DELETE removes a job (204), then 404; unknown and malformed ids are refused', async () => {
    const r = await request(
      sys,
      'POST',
      '/job',
      { operation: shell('true'), target_hostname: 'web-01' },
      admin,
    );
    await finalJob(r.body.job_id);
    expect((await request(sys, 'DELETE', `/job/${r.body.job_id}`, undefined, admin)).status).toBe(
      204,
    );
    expect((await request(sys, 'GET', `/job/${r.body.job_id}`, undefined, admin)).status).toBe(404);
    expect((await request(sys, 'DELETE', `/job/${r.body.job_id}`, undefined, admin)).status).toBe(
      404,
    );
    const unknown = '0190f000-0000-7000-8000-000000000000';
    expect((await request(sys, 'GET', `/job/${unknown}`, undefined, admin)).status).toBe(404);
    expect((await request(sys, 'GET', '/job/not-a-uuid', undefined, admin)).status).toBe(400);
  });

  it('retry makes a new job, optionally for another target, and the old one records it', async () => {
    const file = join(dir, 'retry.log');
    const r = await request(
      sys,
      'POST',
      '/job',
      { operation: shell(`echo x >> ${file}`), target_hostname: 'web-01' },
      admin,
    );
    await finalJob(r.body.job_id);
    const again = await request(
      sys,
      'POST',
      `/job/${r.body.job_id}/retry`,
      { target_hostname: 'web-02' },
      admin,
    );
    expect(again.status).toBe(201);
    expect(again.body.job_id).not.toBe(r.body.job_id);
    const job = await finalJob(again.body.job_id);
    expect(job.hostname).toBe('web-02');
    expect(readFileSync(file, 'utf8')).toBe('x\nx\n');
    const old = await request(sys, 'GET', `/job/${r.body.job_id}`, undefined, admin);
    expect(old.body.timeline.at(-1)).toMatchObject({ event: 'retried' });
    const noBody = await request(sys, 'POST', `/job/${r.body.job_id}/retry`, undefined, admin);
    expect(noBody.status).toBe(201);
  });
});
