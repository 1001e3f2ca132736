// The one derivation of a job's status and each host's state, on made-up
// records: every state and how the job's status follows from them.
import { describe, expect, it } from 'vitest';
import type { FinalHostState, JobRecord, StatusEventRecord } from '../../src/job/records.js';
import { deriveStatus } from '../../src/job/status.js';

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
});
