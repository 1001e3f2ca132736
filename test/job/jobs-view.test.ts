// A query's agent writes its result and no final event: the API's jobs view
// learns how each host ended from the results' headers, live and when it
// starts again, without reading any output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/job/clock.js';
import { watchJobs } from '../../src/job/jobs-view.js';
import type { JobStore } from '../../src/job/store.js';
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

const view = () =>
  watchJobs(
    { nc: store.nc, js: store.js, bucket: store.names.jobsBucket },
    {
      ttlMs: 3600_000,
      clock: systemClock,
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
