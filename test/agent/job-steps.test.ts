// The steps of handling one notification (src/agent/job-steps.ts) on their
// own, without NATS: finding the job, the claim plan, the claim and cancel
// read, the outcomes of a job not run, and the stored result.
import { headers } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import {
  CANCELLED_BEFORE_START,
  claimAndCheckCancel,
  claimPlan,
  eventBatch,
  missedDeadline,
  refusedOutcome,
  remember,
  resolveJob,
  responseOf,
} from '../../src/agent/job-steps.js';
import { type JobRecord, RecordError } from '../../src/job/records.js';
import { JOB_HEADER } from '../../src/names/names.js';

const ID = '0190a8b2-0000-7000-8000-000000000001';
const job: JobRecord = {
  id: ID,
  operation: { type: 'command.shell.execute', data: { command: 'true' } },
  category: 'modify',
  target_hostname: 'h-01',
  created: '2026-01-01T00:00:00.000Z',
  created_by: 'alice',
  deadline: '2026-01-01T00:10:00.000Z',
};

const carrying = (text: string) => {
  const h = headers();
  h.set(JOB_HEADER, text);
  return h;
};

describe('resolveJob', () => {
  it('takes the carried record without reading KV', async () => {
    let reads = 0;
    const r = await resolveJob(carrying(JSON.stringify(job)), ID, async () => {
      reads += 1;
      return null;
    });
    expect(r).toEqual({ kind: 'job', job });
    expect(reads).toBe(0);
  });

  it('reads KV when nothing is carried; missing when KV has none', async () => {
    expect(await resolveJob(undefined, ID, async () => job)).toEqual({ kind: 'job', job });
    expect(await resolveJob(undefined, ID, async () => null)).toEqual({ kind: 'missing' });
  });

  it('a carried record that is wrong, or names another job, is invalid', async () => {
    const read = async () => job;
    expect((await resolveJob(carrying('{nope'), ID, read)).kind).toBe('invalid');
    const other = { ...job, id: '0190a8b2-0000-7000-8000-000000000002' };
    const r = await resolveJob(carrying(JSON.stringify(other)), ID, read);
    expect(r.kind).toBe('invalid');
  });

  it('a record read that is wrong is invalid; NATS failing rejects', async () => {
    const bad = await resolveJob(undefined, ID, async () => {
      throw new RecordError('job record: bad');
    });
    expect(bad).toEqual({ kind: 'invalid', error: 'RecordError: job record: bad' });
    await expect(
      resolveJob(undefined, ID, async () => {
        throw new Error('TIMEOUT');
      }),
    ).rejects.toThrow('TIMEOUT');
  });
});

describe('claimPlan', () => {
  const fresh = { info: { redelivered: false } };
  it.each([
    ['modify', false, fresh, { claim: true, readCancel: false }],
    ['modify', true, fresh, { claim: true, readCancel: true }],
    ['modify', false, { ...fresh, readBack: true }, { claim: true, readCancel: true }],
    ['modify', false, { info: { redelivered: true } }, { claim: true, readCancel: true }],
    [
      'query',
      false,
      { info: { redelivered: true }, readBack: true },
      { claim: false, readCancel: false },
    ],
    ['query', true, fresh, { claim: true, readCancel: false }],
  ] as const)('%s, shared %s, %j: %j', (category, shared, notice, plan) => {
    expect(claimPlan(category, shared, notice)).toEqual(plan);
  });
});

describe('claimAndCheckCancel', () => {
  const ops = (claim: boolean, cancelled: boolean, ours: boolean) => {
    const asked: string[] = [];
    const answer = (what: string, value: boolean) => async () => {
      asked.push(what);
      return value;
    };
    return {
      asked,
      ops: {
        claim: answer('claim', claim),
        isCancelled: answer('cancel', cancelled),
        claimedByThisProcess: answer('ours', ours),
      },
    };
  };

  it('a claim made is owned; the cancel marker is read only when planned', async () => {
    const pending = new Set<string>();
    const o = ops(true, true, false);
    const r = await claimAndCheckCancel(ID, { claim: true, readCancel: false }, pending, o.ops);
    expect(r).toEqual({ owned: true, cancelled: false });
    expect(o.asked).toEqual(['claim']);
    expect(pending.size).toBe(0);
  });

  it('no claim planned: owned without asking', async () => {
    const o = ops(false, false, false);
    const r = await claimAndCheckCancel(ID, { claim: false, readCancel: true }, new Set(), o.ops);
    expect(r).toEqual({ owned: true, cancelled: false });
    expect(o.asked).toEqual(['cancel']);
  });

  it('a claim taken already is ours only if this process sent it and never ran', async () => {
    const o = ops(false, false, true);
    const fresh = await claimAndCheckCancel(
      ID,
      { claim: true, readCancel: false },
      new Set(),
      o.ops,
    );
    expect(fresh.owned).toBe(false);
    expect(o.asked).toEqual(['claim']);

    const sent = new Set([ID]);
    const again = await claimAndCheckCancel(ID, { claim: true, readCancel: false }, sent, o.ops);
    expect(again.owned).toBe(true);
    expect(o.asked).toEqual(['claim', 'claim', 'ours']);
    expect(sent.has(ID)).toBe(false);
  });

  it('when NATS fails, the claim stays noted as sent and not run', async () => {
    const sent = new Set<string>();
    await expect(
      claimAndCheckCancel(ID, { claim: true, readCancel: true }, sent, {
        claim: async () => {
          throw new Error('TIMEOUT');
        },
        isCancelled: async () => false,
        claimedByThisProcess: async () => false,
      }),
    ).rejects.toThrow('TIMEOUT');
    expect(sent.has(ID)).toBe(true);
  });
});

describe('outcomes of a job not run, and the stored result', () => {
  it('missedDeadline: null in time, no_response after', () => {
    expect(missedDeadline(job, new Date('2026-01-01T00:10:00.000Z'))).toBeNull();
    expect(missedDeadline(job, new Date('2026-01-01T00:10:00.001Z'))).toEqual({
      status: 'failed',
      state: 'no_response',
      data: null,
      error:
        'not run: the job had to start by 2026-01-01T00:10:00.000Z, and this agent received it at 2026-01-01T00:10:00.001Z',
    });
  });

  it('cancelled before start and refused carry their states', () => {
    expect(CANCELLED_BEFORE_START.state).toBe('cancelled');
    expect(refusedOutcome('refused, not run: x')).toEqual({
      status: 'failed',
      state: 'refused',
      data: null,
      error: 'refused, not run: x',
    });
  });

  it('responseOf: the state from the outcome, the error only when there is one', () => {
    const t0 = new Date('2026-01-01T00:00:01.000Z');
    const t1 = new Date('2026-01-01T00:00:02.000Z');
    expect(responseOf(job, 'h-01', { status: 'completed', data: { x: 1 } }, t0, t1)).toEqual({
      job_id: ID,
      hostname: 'h-01',
      status: 'completed',
      data: { x: 1 },
      state: 'succeeded',
      started_at: t0.toISOString(),
      finished_at: t1.toISOString(),
    });
    const skipped = responseOf(
      job,
      'h-01',
      { status: 'failed', state: 'skipped', data: null, error: 'no tool' },
      t0,
      t1,
    );
    expect(skipped).toMatchObject({ state: 'skipped', error: 'no tool' });
  });
});

describe('helpers', () => {
  it('remember keeps the newest entries', () => {
    const s = new Set<string>();
    for (const id of ['a', 'b', 'c']) remember(s, id, 2);
    expect([...s]).toEqual(['b', 'c']);
  });

  it('eventBatch reports each failure and settles after all', async () => {
    const errors: unknown[] = [];
    const batch = eventBatch((e) => errors.push(e));
    batch.add(Promise.resolve());
    batch.add(Promise.reject(new Error('lost')));
    await batch.settled();
    expect(errors).toHaveLength(1);
  });
});
