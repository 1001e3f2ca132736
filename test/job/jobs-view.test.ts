// A query's agent writes its result and no final event: the API's jobs view
// learns how each host ended from the results' headers, live and when it
// starts again, without reading any output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Clock, systemClock } from '../../src/job/clock.js';
import { newTimeOrderedId } from '../../src/job/ids.js';
import { watchJobs } from '../../src/job/jobs-view.js';
import { overdueAtMs } from '../../src/job/status.js';
import { appendStatus, type JobStore, publishJob } from '../../src/job/store.js';
import { answeredQuery, storeFor, waitFor } from '../api/helpers.js';
import { silentLogger } from '../support/nats.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

let sys: TestSystem;
let store: JobStore;

beforeAll(async () => {
  sys = await startTestSystem();
  store = await storeFor(sys);
});
afterAll(async () => {
  await sys?.stop();
});

const view = (clock: Clock = systemClock) =>
  watchJobs(
    { nc: store.nc, js: store.js, bucket: store.names.jobsBucket },
    {
      ttlMs: 3600_000,
      clock,
      logger: silentLogger,
      results: { nc: store.nc, js: store.js, bucket: store.names.responsesBucket },
    },
  );

describe('the jobs view follows results by their headers', () => {
  it('a query whose hosts stored results and wrote no final event is complete', async () => {
    const v = await view();
    const id = await answeredQuery(store, [{ host: 'jv-01' }, { host: 'jv-02' }]);
    const derived = await waitFor('the view to see both results', () => {
      const e = v.get(id);
      const d = e && v.derive(e);
      return d?.status === 'completed' && d;
    });
    // No event at all: the submission is the definition's, the results the hosts' ends.
    expect(v.get(id)?.events).toEqual([]);
    expect(derived.hosts).toEqual({
      'jv-01': { status: 'succeeded' },
      'jv-02': { status: 'succeeded' },
    });
    v.stop();
  });

  it('a failed result carries its reason, and a view started later finds the same', async () => {
    const id = await answeredQuery(store, [
      { host: 'jv-01' },
      { host: 'jv-02', error: 'no such\ninterface' },
    ]);
    const v = await view();
    await v.loaded;
    const e = v.get(id);
    expect(e && v.derive(e)).toMatchObject({
      status: 'partial_failure',
      hosts: {
        'jv-01': { status: 'succeeded' },
        'jv-02': { status: 'failed', error: 'no such\ninterface' },
      },
    });
    v.stop();
  });
});

describe('the jobs view lists newest first', () => {
  it('keeps one list while no job comes or goes, and a new one after', async () => {
    const v = await view();
    const first = await answeredQuery(store, [{ host: 'jv-03' }]);
    await waitFor('the view to hold the first job', () => v.get(first) !== undefined);
    const before = v.list();
    expect(before[0]?.record.id).toBe(first);
    // Nothing came or went: the same list, not a copy sorted again.
    expect(v.list()).toBe(before);
    const second = await answeredQuery(store, [{ host: 'jv-03' }]);
    await waitFor('the view to hold the second job', () => v.get(second) !== undefined);
    const after = v.list();
    expect(after).not.toBe(before);
    const ids = after.map((e) => e.record.id);
    expect(ids).toEqual(expect.arrayContaining([first, second]));
    // Newest first: ids are ordered by creation time (two in one millisecond by chance).
    expect(ids).toEqual([...ids].sort().reverse());
    v.forget(second);
    expect(v.list().map((e) => e.record.id)).toEqual(ids.filter((id) => id !== second));
    v.stop();
  });
});

describe('a derived status is kept until the job changes or its deadline passes', () => {
  /** A clock the test moves: the view reads it at each derivation. */
  const movable = () => {
    let ms = Date.now();
    const clock: Clock = { now: () => new Date(ms), nanos: () => systemClock.nanos() };
    return { clock, set: (to: number) => (ms = to) };
  };
  const oneHostJob = (hostname: string, id?: string) =>
    publishJob(store, {
      ...(id ? { id } : {}),
      type: 'command.exec.execute',
      data: { command: 'true', args: [], timeout: 30 },
      target: { kind: 'host', hostname },
      createdBy: 'test',
      startWithinMs: 60_000,
    });

  it('answers the same derivation while nothing changes, and a new one after each event', async () => {
    const t = movable();
    const v = await view(t.clock);
    const job = await oneHostJob('jv-04');
    await waitFor('the view to hold the job', () => v.get(job.id) !== undefined);
    const entry = () => v.get(job.id) as NonNullable<ReturnType<typeof v.get>>;
    const submitted = v.derive(entry());
    expect(submitted.status).toBe('submitted');
    expect(v.derive(entry())).toBe(submitted);
    // Shared by every caller: none may change it for the others.
    expect(Object.isFrozen(submitted)).toBe(true);
    expect(Object.isFrozen(submitted.hosts)).toBe(true);
    expect(Object.isFrozen(submitted.hosts['jv-04'])).toBe(true);

    await appendStatus(store, job.id, 'started', 'jv-04');
    const running = await waitFor('the view to see the job start', () => {
      const d = v.derive(entry());
      return d.status === 'processing' && d;
    });
    expect(running.hosts['jv-04']?.status).toBe('running');
    await appendStatus(store, job.id, 'completed', 'jv-04');
    const done = await waitFor('the view to see it end', () => {
      const d = v.derive(entry());
      return d.status === 'completed' && d;
    });
    // Final: kept past its deadline too.
    t.set(overdueAtMs(job) + 600_000);
    expect(v.derive(entry())).toBe(done);
    v.stop();
  });

  it('turns a silent host no_response at its deadline, not before, then keeps that', async () => {
    const t = movable();
    const v = await view(t.clock);
    const job = await oneHostJob('jv-05');
    await waitFor('the view to hold the job', () => v.get(job.id) !== undefined);
    const entry = v.get(job.id) as NonNullable<ReturnType<typeof v.get>>;
    t.set(overdueAtMs(job) - 1);
    expect(v.derive(entry).status).toBe('submitted');
    t.set(overdueAtMs(job));
    const atDeadline = v.derive(entry);
    expect(atDeadline.status).toBe('submitted');
    t.set(overdueAtMs(job) + 1);
    const after = v.derive(entry);
    expect(after.status).toBe('failed');
    expect(after.hosts['jv-05']?.status).toBe('no_response');
    t.set(overdueAtMs(job) + 600_000);
    expect(v.derive(entry)).toBe(after);
    v.stop();
  });

  it('tells a listener when the job itself arrives', async () => {
    const v = await view();
    const id = newTimeOrderedId();
    // Listening before the job exists: only the definition's arrival can wake it.
    const heard = new Promise<void>((resolve) => {
      const off = v.onChange(id, () => {
        if (v.get(id)) {
          off();
          resolve();
        }
      });
    });
    await oneHostJob('jv-06', id);
    await heard;
    expect(v.get(id)?.record.id).toBe(id);
    v.stop();
  });
});
