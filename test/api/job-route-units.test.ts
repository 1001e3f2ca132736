// The jobs API's units without NATS: the counts of GET /job/status, the 404
// of an unknown job, and the refusals of a cancel (a token that could not
// have started the job; a job that already ended), each before anything is
// written. Views and streams are stand-ins holding just what each unit reads.
import { describe, expect, it } from 'vitest';
import type { AuthUser } from '../../src/api/auth.js';
import { findJob } from '../../src/api/job/find.js';
import { cancelJob, type JobRouteDeps, jobStats, recordedJob } from '../../src/api/job/routes.js';
import type { JobEntry } from '../../src/job/jobs-view.js';
import type { JobRecord } from '../../src/job/records.js';
import type { DerivedStatus } from '../../src/job/status.js';
import { apiRefusal } from '../support/api-error.js';

function entry(id: string, type: string, data: unknown = {}): JobEntry {
  return {
    record: { id, operation: { type, data }, target_hostname: '_all' } as unknown as JobRecord,
    events: [],
    answers: new Map(),
  };
}

function depsOf(
  entries: JobEntry[],
  statuses: Record<string, Partial<DerivedStatus>>,
  dlq?: number,
) {
  const written: string[] = [];
  const deps = {
    jobs: {
      list: () => entries,
      get: (id: string) => entries.find((e) => e.record.id === id),
      derive: (e: JobEntry) => ({ final: false, status: 'processing', ...statuses[e.record.id] }),
      statusOf: (e: JobEntry) => statuses[e.record.id]?.status ?? 'processing',
    },
    jsm: {
      streams: {
        info: async () => {
          if (dlq === undefined) throw new Error('stream not found');
          return { state: { messages: dlq } };
        },
      },
    },
    dlqStream: 'JOBS-DLQ',
    // Any write would land here: the refusals below must leave it empty.
    store: new Proxy({}, { get: (_t, k) => written.push(String(k)) }),
  } as unknown as JobRouteDeps;
  return { deps, written };
}

const admin: AuthUser = {
  subject: 'alice',
  roles: ['admin'],
  permissions: ['command:execute', 'job:read', 'job:write', 'node:read'],
  commandPolicy: null,
  expiresAt: 0,
};

describe('the jobs API units', () => {
  it('counts jobs by status and by operation, with the dead letters (0 when unreadable)', async () => {
    const jobs = [
      entry('a', 'node.os.get'),
      entry('b', 'node.os.get'),
      entry('c', 'command.exec.execute'),
    ];
    const { deps } = depsOf(jobs, { a: { status: 'completed' }, b: { status: 'failed' } }, 3);
    expect(await jobStats(deps)).toEqual({
      total_jobs: 3,
      status_counts: { completed: 1, failed: 1, processing: 1 },
      operation_counts: { 'node.os.get': 2, 'command.exec.execute': 1 },
      dlq_count: 3,
    });
    expect((await jobStats(depsOf(jobs, {}).deps)).dlq_count).toBe(0);
  });

  it('an unknown job is a 404 naming it', async () => {
    const err = await apiRefusal(findJob(depsOf([], {}).deps, 'nope'));
    expect(err.reason).toBe('not_found');
    expect(err.message).toContain('nope');
  });

  it('a cancel is refused, writing nothing, to a token that could not have started the job', async () => {
    const job = entry('j1', 'command.exec.execute', { command: 'reboot', args: [], timeout: 5 });
    const { deps, written } = depsOf([job], {});
    const reader = { ...admin, permissions: ['job:read', 'job:write'] } as AuthUser;
    const err = await apiRefusal(cancelJob(deps, reader, job));
    expect(err.reason).toBe('forbidden');
    expect(err.message).toContain('command:execute');
    expect(err.facts).toMatchObject({ job_id: 'j1' });
    expect(written).toEqual([]);
  });

  it('a cancel of a job that ended is job_finished, writing nothing', async () => {
    const job = entry('j2', 'node.os.get');
    const { deps, written } = depsOf([job], { j2: { final: true, status: 'completed' } });
    const err = await apiRefusal(cancelJob(deps, admin, job));
    expect(err.reason).toBe('job_finished');
    expect(err.message).toContain('completed');
    expect(written).toEqual([]);
  });

  it('a job just made answers as created, not replayed', async () => {
    const { deps } = depsOf([], {});
    const made = await recordedJob(deps, {
      kind: 'submitted',
      job: { jobId: 'j3', revision: 7, created: '2026-01-01T00:00:00.000Z', expectedHosts: [] },
    } as never);
    expect(made).toEqual({
      created: {
        job_id: 'j3',
        status: 'submitted',
        revision: 7,
        timestamp: '2026-01-01T00:00:00.000Z',
      },
      replayed: false,
    });
  });
});
