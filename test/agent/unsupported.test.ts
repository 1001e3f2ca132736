// A handler that answers `unsupported` (a platform lacking the tool an
// operation needs): the host's part is `skipped` with the reason as its
// error, and the job does not count it as succeeded.
import { describe, expect, it } from 'vitest';
import { nodeHandler } from '../../src/agent/handlers/checked.js';
import {
  HANDLERS,
  type HandlerContext,
  type HandlerRegistry,
  runJob,
} from '../../src/agent/handlers/index.js';
import { finalStateOf, type JobRecord } from '../../src/job/records.js';
import { deriveStatus, type HostAnswer } from '../../src/job/status.js';

const ctx: HandlerContext = {
  hostname: 'h-01',
  labels: {},
  maxOutputBytes: 1024,
  signal: new AbortController().signal,
};

const REASON = 'ping is not available on this platform';
let calls = 0;
const registry: HandlerRegistry = {
  ...HANDLERS,
  'network.ping.do': nodeHandler('network.ping.do', async () => {
    calls += 1;
    return { unsupported: REASON };
  }),
};

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();
const job: JobRecord = {
  id: '0190a8b2-0000-7000-8000-000000000001',
  operation: { type: 'network.ping.do', data: { address: '127.0.0.1' } },
  category: 'query',
  target_hostname: '_all',
  created: at(0),
  created_by: 'alice',
  deadline: at(60_000),
  expected_hosts: ['a', 'b'],
};

describe('a handler answering unsupported', () => {
  it('gives the state skipped with the reason as the error', async () => {
    const out = await runJob('network.ping.do', { address: '127.0.0.1' }, ctx, registry);
    expect(out).toEqual({ status: 'failed', state: 'skipped', data: null, error: REASON });
    expect(finalStateOf(out)).toBe('skipped');
  });

  it('still runs only on valid data: invalid data fails naming the field, the handler not called', async () => {
    calls = 0;
    const out = await runJob('network.ping.do', { address: 'x', extra: 1 }, ctx, registry);
    expect(out.status).toBe('failed');
    expect(out.state).toBeUndefined();
    expect(out.error).toMatch(/^invalid job data: /);
    expect(out.error).toContain('extra');
    expect(calls).toBe(0);
  });

  it('is a final state that the job does not count as succeeded', async () => {
    const out = await runJob('network.ping.do', { address: '127.0.0.1' }, ctx, registry);
    const skipped: HostAnswer = {
      state: finalStateOf(out),
      error: out.error as string,
      at: at(10),
    };
    const one = deriveStatus(job, [], new Date(T0 + 20), new Map([['a', skipped]]));
    expect(one.hosts.a).toEqual({ status: 'skipped', error: REASON });
    expect(one.final).toBe(false);

    const both = deriveStatus(
      job,
      [],
      new Date(T0 + 20),
      new Map([
        ['a', skipped],
        ['b', { state: 'succeeded', at: at(11) } satisfies HostAnswer],
      ]),
    );
    expect(both.final).toBe(true);
    expect(both.status).toBe('partial_failure');

    const all = deriveStatus(
      job,
      [],
      new Date(T0 + 20),
      new Map([
        ['a', skipped],
        ['b', skipped],
      ]),
    );
    expect(all.status).toBe('failed');
  });
});
