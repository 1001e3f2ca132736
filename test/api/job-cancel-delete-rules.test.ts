// Who may cancel or delete a job. Cancelling stops what runs, so a token may
// cancel only a job it could have started: its operation's permission and,
// for a command, its roles' command policy on the stored command. Deleting a
// job's record needs job:write and is audited with the job's target.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandJobData } from '../../src/contract/command.js';
import { type JobStore, publishJob } from '../../src/job/store.js';
import { type AnyJson, request, startTestSystem, type TestSystem } from '../support/system.js';
import { storeFor, waitFor } from './helpers.js';

const ROLES = {
  // May run `echo` and nothing else; may read and cancel jobs, not delete them.
  ops: {
    permissions: ['command:execute', 'job:read'],
    commands: { exec: ['echo *'], shell: false },
  },
  // May delete jobs' records, and runs nothing.
  janitor: { permissions: ['job:read', 'job:write'] },
};

let sys: TestSystem;
let store: JobStore;
let admin: string;

beforeAll(async () => {
  sys = await startTestSystem({ overrides: { 'api.server.security.roles': ROLES } });
  store = await storeFor(sys);
  admin = await sys.token();
});
afterAll(async () => {
  await sys?.stop();
});

/** A job for a host no agent serves: it stays open until cancelled or deleted. */
async function openJob(
  type: 'command.exec.execute' | 'command.shell.execute' | 'node.hostname.get',
  data: unknown,
  target: string,
): Promise<string> {
  const job = await publishJob(store, {
    type,
    data,
    target: { kind: 'host', hostname: target },
    createdBy: 'admin@example.com',
    startWithinMs: 120_000,
  });
  await waitFor(`job ${job.id} in the view`, async () => {
    return (await request(sys, 'GET', `/job/${job.id}`, undefined, admin)).status === 200;
  });
  return job.id;
}

const exec = (command: string, args: string[]) =>
  commandJobData({ command, args, timeout: 60 } as Parameters<typeof commandJobData>[0]);

const statusOf = async (id: string): Promise<string> =>
  (await request(sys, 'GET', `/job/${id}`, undefined, admin)).body.status;

async function auditEntries(): Promise<AnyJson[]> {
  await sys.api.audit.flush();
  return (await request(sys, 'GET', '/audit?limit=100', undefined, admin)).body.items;
}

describe('POST /job/{id}/cancel with a command policy', () => {
  it('refuses, 403, a job the token could not have started, and cancels nothing', async () => {
    const ops = await sys.token(['ops']);
    const upgrade = await openJob('command.exec.execute', exec('apt-get', ['upgrade']), 'web-01');
    const r = await request(sys, 'POST', `/job/${upgrade}/cancel`, undefined, ops);
    expect(r.status).toBe(403);
    expect(r.body.reason).toBe('forbidden');
    expect(r.body.error).toMatch(
      new RegExp(`job ${upgrade} may not be cancelled .*only jobs it could have started`),
    );
    expect(r.body.error).toMatch(/command policy/);
    expect(await statusOf(upgrade)).not.toBe('cancelled');

    const shell = await openJob('command.shell.execute', exec('echo hi', []), 'web-01');
    expect((await request(sys, 'POST', `/job/${shell}/cancel`, undefined, ops)).status).toBe(403);

    // Not a command: the operation's own permission (node:read) decides.
    const query = await openJob('node.hostname.get', {}, 'web-01');
    const q = await request(sys, 'POST', `/job/${query}/cancel`, undefined, ops);
    expect(q.status).toBe(403);
    expect(q.body.error).toMatch(/needs the permission node:read/);
  });

  it('cancels a job its policy allows, whoever started it', async () => {
    const ops = await sys.token(['ops']);
    const echo = await openJob('command.exec.execute', exec('echo', ['hi']), 'web-02');
    const r = await request(sys, 'POST', `/job/${echo}/cancel`, undefined, ops);
    expect(r.status).toBe(200);
    const events = r.body.timeline.map((e: AnyJson) => e.event);
    expect(events).toContain('cancelled');
  });

  it('is audited with the job’s target, refused or not', async () => {
    const ops = await sys.token(['ops']);
    const job = await openJob('command.exec.execute', exec('reboot', []), 'db-07');
    expect((await request(sys, 'POST', `/job/${job}/cancel`, undefined, ops)).status).toBe(403);
    const entry = (await auditEntries()).find((e) => e.path === `/job/${job}/cancel`);
    expect(entry).toMatchObject({ method: 'POST', response_code: 403, target: 'db-07' });
  });
});

describe('DELETE /job/{id}', () => {
  it('needs job:write', async () => {
    const job = await openJob('node.hostname.get', {}, 'web-03');
    const ops = await sys.token(['ops']);
    const r = await request(sys, 'DELETE', `/job/${job}`, undefined, ops);
    expect(r.status).toBe(403);
    expect(r.body.missing_permission).toBe('job:write');
    expect(r.body.details).toBe('missing_permission: job:write');
    expect(await statusOf(job)).toBeDefined();
  });

  it('deletes the record and writes an audit entry naming the job’s target', async () => {
    const job = await openJob('command.exec.execute', exec('echo', ['x']), 'db-09');
    const janitor = await sys.token(['janitor']);
    const r = await request(sys, 'DELETE', `/job/${job}`, undefined, janitor);
    expect(r.status).toBe(204);
    expect((await request(sys, 'GET', `/job/${job}`, undefined, admin)).status).toBe(404);
    const entry = (await auditEntries()).find(
      (e) => e.method === 'DELETE' && e.path === `/job/${job}`,
    );
    expect(entry).toMatchObject({
      user: 'tester@example.com',
      roles: ['janitor'],
      response_code: 204,
      target: 'db-09',
    });
  });
});
