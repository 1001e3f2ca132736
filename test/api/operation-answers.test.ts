// The answer of an operation from what its agents stored, shaped as its
// declaration says: a query's item, a change's (`ok`, `changed`), a
// command's; a host the platform cannot serve is `skipped`; a result the
// schema refuses fails that host; nobody answering is the 500 naming the job.
import { describe, expect, it } from 'vitest';
import type { DispatchResult } from '../../src/api/dispatch.js';
import { ApiError } from '../../src/api/errors.js';
import { operationAnswer } from '../../src/api/operations/answers.js';
import type { JobResponse } from '../../src/job/records.js';

const JOB = '0190d8e6-7a1b-7c3d-8e4f-5a6b7c8d9e0f';

function result(
  responses: Array<Partial<JobResponse> & { hostname: string }>,
  missing: string[] = [],
) {
  return {
    jobId: JOB,
    responses: responses.map((r) => ({ status: 'completed', data: null, ...r })) as JobResponse[],
    missing,
    waitedMs: 1200,
  } satisfies DispatchResult;
}

describe('operationAnswer', () => {
  it('a query: the result fields beside the hostname; skipped and silent hosts say why', () => {
    const body = operationAnswer(
      'node.uptime.get',
      result(
        [
          { hostname: 'a', data: { uptime: '1h' } },
          { hostname: 'b', status: 'failed', state: 'skipped', error: 'no /proc here' },
        ],
        ['c'],
      ),
      10,
    );
    expect(body).toEqual({
      job_id: JOB,
      results: [
        { hostname: 'a', status: 'completed', uptime: '1h' },
        { hostname: 'b', status: 'skipped', error: 'no /proc here' },
        {
          hostname: 'c',
          status: 'no_answer',
          error: expect.stringContaining('no answer from this agent within 10 s'),
        },
      ],
    });
  });

  it('a silent host when NATS was away during the wait: its answer may be lost, and where to look', () => {
    const body = operationAnswer(
      'node.uptime.get',
      { ...result([{ hostname: 'a', data: { uptime: '1h' } }], ['c']), natsInterrupted: true },
      10,
    );
    expect(body.results[1]).toEqual({
      hostname: 'c',
      status: 'no_answer',
      error: expect.stringMatching(
        new RegExp(
          `NATS was unavailable for part of the wait.*GET /job/${JOB}.*send the request again`,
        ),
      ),
    });
  });

  it('a change: ok with changed, a failure never changed', () => {
    const body = operationAnswer(
      'network.dns.update',
      result([
        { hostname: 'a', data: { changed: true, source: '/etc/resolv.conf' } },
        { hostname: 'b', status: 'failed', error: 'read-only file system' },
      ]),
      10,
    );
    expect(body.results).toEqual([
      { hostname: 'a', status: 'ok', changed: true, source: '/etc/resolv.conf' },
      { hostname: 'b', status: 'failed', changed: false, error: 'read-only file system' },
    ]);
  });

  it('a result its schema refuses fails that host, naming the operation', () => {
    const body = operationAnswer(
      'node.os.get',
      result([{ hostname: 'a', data: { os_info: 7 } }]),
      10,
    );
    expect(body.results).toEqual([
      {
        hostname: 'a',
        status: 'failed',
        error: expect.stringContaining('node.os.get with a result'),
      },
    ]);
  });

  it("a command's item keeps its output fields, with defaults where the host had none", () => {
    const body = operationAnswer(
      'command.exec.execute',
      result([{ hostname: 'a', status: 'failed', error: 'spawn failed' }]),
      30,
    );
    expect(body.results).toEqual([
      {
        hostname: 'a',
        stdout: '',
        stderr: '',
        exit_code: -1,
        duration_ms: 0,
        changed: false,
        error: 'spawn failed',
        status: 'failed',
        state: 'failed',
        stdout_truncated: false,
        stderr_truncated: false,
      },
    ]);
  });

  it('nobody answering is no_agent_answered with the job and the silent hosts', () => {
    let caught: unknown;
    try {
      operationAnswer('node.os.get', result([], ['a', 'b']), 10);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ApiError);
    expect((caught as ApiError).reason).toBe('no_agent_answered');
    expect((caught as ApiError).message).toContain(JOB);
  });
});
