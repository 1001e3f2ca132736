// The one derivation of a job's status and each host's state, on made-up
// records: every state and how the job's status follows from them.
import { describe, expect, it } from 'vitest';
import type { FinalHostState, JobRecord, StatusEventRecord } from '../../src/job/records.js';
import { deriveStatus, timelineOf } from '../../src/job/status.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

function job(target: string, expected?: string[]): JobRecord {
  return {
    id: '0190a8b2-0000-7000-8000-000000000001',
    operation: { type: 'command.shell.execute', data: { command: 'true' } },
    category: 'modify',
    target_hostname: target,
    created: at(0),
    created_by: 'alice',
    deadline: at(60_000),
    ...(expected ? { expected_hosts: expected } : {}),
  };
}

function ev(
  ms: number,
  event: StatusEventRecord['event'],
  hostname: string,
  state?: FinalHostState,
): StatusEventRecord {
  return { timestamp: at(ms), event, hostname, ...(state ? { state } : {}) };
}

const before = new Date(T0 + 1000);
const afterDeadline = new Date(T0 + 120_000);

describe('deriveStatus', () => {
  it('submitted until a host does anything; the expected hosts are pending', () => {
    const d = deriveStatus(job('_all', ['a', 'b']), [ev(0, 'submitted', '_api')], before);
    expect(d.status).toBe('submitted');
    expect(d.hosts).toEqual({ a: { status: 'pending' }, b: { status: 'pending' } });
    expect(d.final).toBe(false);
  });

  it('received but waiting for a slot is still pending; started is running', () => {
    const d = deriveStatus(
      job('_all', ['a', 'b']),
      [ev(0, 'submitted', '_api'), ev(1, 'acknowledged', 'a'), ev(2, 'started', 'b')],
      before,
    );
    expect(d.status).toBe('processing');
    expect(d.hosts.a?.status).toBe('pending');
    expect(d.hosts.b?.status).toBe('running');
  });

  it.each<[FinalHostState]>([
    ['succeeded'],
    ['failed'],
    ['timed_out'],
    ['cancelled'],
    ['skipped'],
    ['refused'],
    ['no_response'],
  ])('a final event carrying %s gives that state, with the duration from started', (state) => {
    const d = deriveStatus(
      job('web-01'),
      [
        ev(0, 'started', 'web-01'),
        ev(1500, state === 'succeeded' ? 'completed' : 'failed', 'web-01', state),
      ],
      before,
    );
    expect(d.hosts['web-01']).toEqual({ status: state, durationMs: 1500 });
    expect(d.final).toBe(true);
    expect(d.status).toBe(state === 'succeeded' ? 'completed' : 'failed');
  });

  it('events without a state (older records, node operations): completed is succeeded, failed is failed', () => {
    const d = deriveStatus(
      job('_all', ['a', 'b']),
      [ev(1, 'completed', 'a'), ev(2, 'failed', 'b')],
      before,
    );
    expect(d.hosts.a?.status).toBe('succeeded');
    expect(d.hosts.b?.status).toBe('failed');
    expect(d.status).toBe('partial_failure');
  });

  it('an expected host silent after the start deadline is no_response, and counts as failed', () => {
    const d = deriveStatus(
      job('_all', ['a', 'b']),
      [ev(1, 'completed', 'a', 'succeeded')],
      afterDeadline,
    );
    expect(d.hosts.b?.status).toBe('no_response');
    expect(d.hosts.b?.error).toMatch(/deadline/);
    expect(d.status).toBe('partial_failure');
    // Before the deadline the same host is still pending and the job processing.
    expect(deriveStatus(job('_all', ['a', 'b']), [ev(1, 'completed', 'a')], before).status).toBe(
      'processing',
    );
  });

  it('a one-host job whose host never answers ends no_response; an _any job nobody took too', () => {
    const one = deriveStatus(job('web-01'), [ev(0, 'submitted', '_api')], afterDeadline);
    expect(one.hosts['web-01']?.status).toBe('no_response');
    expect(one.status).toBe('failed');
    const any = deriveStatus(job('_any'), [ev(0, 'submitted', '_api')], afterDeadline);
    expect(any.hosts._any?.status).toBe('no_response');
    expect(any.status).toBe('failed');
    expect(deriveStatus(job('_any'), [], before).status).toBe('submitted');
  });

  it('after a cancel, hosts that had not started are cancelled; running ones stay running until they report', () => {
    const events = [
      ev(0, 'submitted', '_api'),
      ev(1, 'started', 'a'),
      ev(2, 'acknowledged', 'b'),
      ev(3, 'cancelled', '_api'),
    ];
    const d = deriveStatus(job('_all', ['a', 'b', 'c']), events, before);
    expect(d.cancelled).toBe(true);
    expect(d.hosts.a?.status).toBe('running');
    expect(d.hosts.b?.status).toBe('cancelled');
    expect(d.hosts.c?.status).toBe('cancelled');
    expect(d.final).toBe(false);
    const later = deriveStatus(
      job('_all', ['a', 'b', 'c']),
      [...events, ev(4, 'failed', 'a', 'cancelled')],
      before,
    );
    expect(later.final).toBe(true);
    expect(later.status).toBe('failed');
  });

  it('the first final event of a host wins over anything after it', () => {
    const d = deriveStatus(
      job('web-01'),
      [ev(1, 'failed', 'web-01', 'timed_out'), ev(2, 'completed', 'web-01', 'succeeded')],
      before,
    );
    expect(d.hosts['web-01']?.status).toBe('timed_out');
  });

  describe('a copy refused where the job was not addressed (`refused` event)', () => {
    const refused = (ms: number, host: string) => ({
      ...ev(ms, 'refused', host, 'refused'),
      error: 'refused, not run: the job was signed for host web-01, not this one (web-02)',
    });

    it('shows the refusing host without changing the status of the job', () => {
      const d = deriveStatus(
        job('web-01'),
        [refused(1, 'web-02'), ev(2, 'completed', 'web-01', 'succeeded')],
        before,
      );
      expect(d.hosts['web-02']?.status).toBe('refused');
      expect(d.hosts['web-02']?.error).toMatch(/signed for host web-01/);
      expect(d.status).toBe('completed');
      expect(d.final).toBe(true);
    });

    it('leaves an addressed host that refused a copy still owing its own part', () => {
      const d = deriveStatus(
        job('_all', ['a', 'b']),
        [refused(1, 'b'), ev(2, 'completed', 'a', 'succeeded')],
        before,
      );
      expect(d.hosts.b?.status).toBe('pending');
      expect(d.final).toBe(false);
      const later = deriveStatus(
        job('_all', ['a', 'b']),
        [refused(1, 'b'), ev(2, 'completed', 'a', 'succeeded'), ev(3, 'completed', 'b')],
        before,
      );
      expect(later.hosts.b?.status).toBe('succeeded');
      expect(later.status).toBe('completed');
    });

    it('never makes a host of an _any job: its host is whoever took it', () => {
      const d = deriveStatus(
        job('_any'),
        [refused(1, 'web-02'), ev(2, 'started', 'web-02'), ev(3, 'completed', 'web-02')],
        before,
      );
      expect(d.hosts).toEqual({ 'web-02': { status: 'succeeded', durationMs: 1 } });
      expect(d.status).toBe('completed');
      expect(deriveStatus(job('_any'), [refused(1, 'web-02')], before).hosts).toEqual({});
    });
  });

  it('ignores events in the name of a host the job was not addressed to', () => {
    const d = deriveStatus(
      job('web-01'),
      [ev(1, 'failed', 'intruder', 'failed'), ev(2, 'completed', 'web-01', 'succeeded')],
      before,
    );
    expect(Object.keys(d.hosts)).toEqual(['web-01']);
    expect(d.status).toBe('completed');
  });

  it('ignores a result stored in the name of a host the job was not addressed to', () => {
    const answer = { state: 'succeeded' as const, at: at(2) };
    const one = deriveStatus(job('web-01'), [], before, new Map([['intruder', answer]]));
    expect(one.hosts).toEqual({ 'web-01': { status: 'pending' } });
    const broadcast = deriveStatus(
      job('_all', ['a']),
      [],
      before,
      new Map([
        ['a', answer],
        ['intruder', answer],
      ]),
    );
    expect(Object.keys(broadcast.hosts)).toEqual(['a']);
    expect(broadcast.status).toBe('completed');
  });
});

describe('timelineOf', () => {
  it('begins with the submission, from the definition, then the events', () => {
    const t = timelineOf(job('web-01'), [ev(5, 'started', 'web-01')]);
    expect(t).toEqual([
      {
        timestamp: at(0),
        event: 'submitted',
        hostname: '_api',
        message: 'submitted by alice for web-01',
      },
      ev(5, 'started', 'web-01'),
    ]);
  });

  it("names a rollout's limits", () => {
    const rolled = { ...job('_all', ['a']), rollout: { max_concurrency: 2, max_errors: 1 } };
    expect(timelineOf(rolled, [])[0]?.message).toBe(
      'submitted by alice for _all (max_concurrency 2, max_errors 1)',
    );
  });

  it('keeps a submitted event stored with the job, once', () => {
    const stored = { ...ev(1, 'submitted', '_api'), message: 'submitted by alice for _all' };
    expect(timelineOf(job('_all', ['a']), [stored])).toEqual([stored]);
  });
});
