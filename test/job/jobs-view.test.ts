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
import { bucketsOf } from '../support/buckets.js';
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

const view = (clock: Clock = systemClock, ttlMs = 3600_000) =>
  watchJobs(
    { nc: store.nc, js: store.js, bucket: store.names.jobsBucket },
    {
      ttlMs,
      clock,
      logger: silentLogger,
      results: { nc: store.nc, js: store.js, bucket: store.names.responsesBucket },
    },
  );

const oneHostJob = (hostname: string, id?: string) =>
  publishJob(store, {
    ...(id ? { id } : {}),
    type: 'command.exec.execute',
    data: { command: 'true', args: [], timeout: 30 },
    target: { kind: 'host', hostname },
    createdBy: 'test',
    startWithinMs: 60_000,
  });

/** A clock the test moves: the view reads it at each derivation. */
const movable = () => {
  let ms = Date.now();
  const clock: Clock = { now: () => new Date(ms), nanos: () => systemClock.nanos() };
  return { clock, set: (to: number) => (ms = to) };
};

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

describe('a status is kept until the job changes or its deadline passes', () => {
  it('keeps a status while nothing changes, and derives it again after each event', async () => {
    const t = movable();
    const v = await view(t.clock);
    const job = await oneHostJob('jv-04');
    await waitFor('the view to hold the job', () => v.get(job.id) !== undefined);
    const entry = () => v.get(job.id) as NonNullable<ReturnType<typeof v.get>>;
    expect(v.statusOf(entry())).toBe('submitted');
    // Kept: an event slipped into the entry without the view's word is not seen.
    const timestamp = t.clock.now().toISOString();
    entry().events.push({ event: 'started', hostname: 'jv-04', timestamp, nanos: 1n });
    expect(v.statusOf(entry())).toBe('submitted');
    entry().events.pop();
    // Each host's detail, once asked, is the same object for every caller, and none may change it.
    const detail = v.derive(entry());
    expect(detail.status).toBe('submitted');
    expect(v.derive(entry())).toBe(detail);
    expect(Object.isFrozen(detail)).toBe(true);
    expect(Object.isFrozen(detail.hosts['jv-04'])).toBe(true);

    await appendStatus(store, job.id, 'started', 'jv-04');
    await waitFor('the view to see the job start', () => v.statusOf(entry()) === 'processing');
    expect(v.derive(entry()).hosts['jv-04']?.status).toBe('running');
    await appendStatus(store, job.id, 'completed', 'jv-04');
    await waitFor('the view to see it end', () => v.statusOf(entry()) === 'completed');
    // Final: kept past its deadline too.
    t.set(overdueAtMs(job) + 600_000);
    expect(v.statusOf(entry())).toBe('completed');
    v.stop();
  });

  it('turns a silent host no_response at its deadline, not before, then keeps that', async () => {
    const t = movable();
    const v = await view(t.clock);
    const job = await oneHostJob('jv-05');
    await waitFor('the view to hold the job', () => v.get(job.id) !== undefined);
    const entry = v.get(job.id) as NonNullable<ReturnType<typeof v.get>>;
    t.set(overdueAtMs(job) - 1);
    expect(v.statusOf(entry)).toBe('submitted');
    t.set(overdueAtMs(job));
    expect(v.statusOf(entry)).toBe('submitted');
    t.set(overdueAtMs(job) + 1);
    expect(v.statusOf(entry)).toBe('failed');
    expect(v.derive(entry).hosts['jv-05']?.status).toBe('no_response');
    t.set(overdueAtMs(job) + 600_000);
    expect(v.statusOf(entry)).toBe('failed');
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

describe('what the view holds of each job', () => {
  it("keeps each job's answers its own, though jobs without one share an empty map", async () => {
    const v = await view();
    const quiet = await oneHostJob('jv-07');
    const answered = await answeredQuery(store, [{ host: 'jv-08' }]);
    await waitFor('the view to see the answer', () => v.get(answered)?.answers.size === 1);
    await waitFor('the view to hold the quiet job', () => v.get(quiet.id) !== undefined);
    expect(v.get(quiet.id)?.answers.size).toBe(0);
    // The signature is the agents' to check: the view leaves it in the store.
    expect(quiet.signature).toEqual(expect.any(String));
    expect(v.get(quiet.id)?.record.signature).toBeUndefined();
    expect(v.get(quiet.id)?.record).toMatchObject({ id: quiet.id, key_id: quiet.key_id });
    const later = await oneHostJob('jv-07');
    await waitFor('the view to hold the later job', () => v.get(later.id) !== undefined);
    expect(v.get(later.id)?.answers.size).toBe(0);
    expect(v.get(later.id)?.answers).toBe(v.get(quiet.id)?.answers);
    expect([...(v.get(answered)?.answers.keys() ?? [])]).toEqual(['jv-08']);
    v.stop();
  });

  it("leaves out a definition stored under another job's key", async () => {
    const v = await view();
    const job = await oneHostJob('jv-09');
    await appendStatus(store, job.id, 'started', 'jv-09');
    const started = () => {
      const e = v.get(job.id);
      return e !== undefined && v.statusOf(e) === 'processing';
    };
    await waitFor('the view to see the job start', started);
    const { jobs } = await bucketsOf(store);
    const stolen = newTimeOrderedId();
    const copy = await jobs.get(`jobs.${job.id}`);
    await jobs.put(`jobs.${stolen}`, copy?.value ?? new Uint8Array());
    // A later job, to know the view has read past the copy.
    const after = await oneHostJob('jv-09');
    await waitFor('the view to hold the later job', () => v.get(after.id) !== undefined);
    expect(v.get(stolen)).toBeUndefined();
    // The job the copy names is untouched: its events are still its own.
    expect(started()).toBe(true);
    expect(v.list().map((e) => e.record.id)).not.toContain(stolen);
    v.stop();
  });

  it("drops jobs past the bucket's TTL, counted from when the server stored them", async () => {
    const { jobs } = await bucketsOf(store);
    const storedAt = async (id: string) => (await jobs.get(`jobs.${id}`))?.created.getTime() ?? 0;
    const a = await oneHostJob('jv-10');
    // A record claiming a creation a day ahead: NATS drops it by when it stored it all the same.
    const ahead = newTimeOrderedId();
    const record = JSON.parse(new TextDecoder().decode((await jobs.get(`jobs.${a.id}`))?.value));
    await jobs.put(
      `jobs.${ahead}`,
      JSON.stringify({ ...record, id: ahead, created: new Date(Date.now() + 86_400_000) }),
    );
    let b = await oneHostJob('jv-10');
    // Stored at least a millisecond after the others, so one instant falls between.
    while ((await storedAt(b.id)) <= (await storedAt(ahead))) b = await oneHostJob('jv-10');
    const t = movable();
    const ttlMs = 60_000;
    const v = await view(t.clock, ttlMs);
    await v.loaded;
    const held = () => v.list().map((e) => e.record.id);
    expect(held()).toEqual(expect.arrayContaining([a.id, ahead, b.id]));
    t.set((await storedAt(a.id)) + ttlMs);
    expect(held()).toEqual(expect.arrayContaining([a.id, ahead, b.id]));
    t.set((await storedAt(ahead)) + ttlMs + 1);
    expect(held()).not.toContain(a.id);
    expect(held()).not.toContain(ahead);
    expect(held()).toContain(b.id);
    expect(v.get(ahead)).toBeUndefined();
    expect(v.get(b.id)?.record.id).toBe(b.id);
    t.set((await storedAt(b.id)) + ttlMs + 1);
    expect(held()).not.toContain(b.id);
    v.stop();
  });
});
