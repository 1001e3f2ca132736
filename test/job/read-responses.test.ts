// A job's results are read by key when the caller knows a few hosts (a
// direct get each, which any replica answers), else through one short-lived
// consumer. When that consumer cannot be made (on a cluster, nats-server 2.9
// may place it on the node that is gone), each known host's result is read
// by its key instead, so GET /job/{id} still answers with what is stored.
import { AckPolicy, DiscardPolicy, jetstreamManager } from '@nats-io/jetstream';
import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/job/clock.js';
import { type JobStore, openJobStore, readResponses, storeResponse } from '../../src/job/store.js';
import { infraNames, kvStream, kvSubject } from '../../src/names/names.js';
import { ensureLayout } from '../../src/nats/layout.js';
import { answeredQuery } from '../api/helpers.js';
import { useTestNats } from '../support/nats.js';
import { testLayout } from '../support/settings.js';

const t = useTestNats();
let store: JobStore;
/** `store`, but no consumer can be made on its responses (storeWithoutRoomForConsumers). */
let full: JobStore;

beforeAll(async () => {
  const layout = testLayout('rr');
  await ensureLayout(t.nc, layout);
  store = await openJobStore(t.nc, infraNames(layout), systemClock);
  full = await storeWithoutRoomForConsumers();
});

/**
 * The store, with a responses bucket whose stream takes one consumer and has
 * it taken: reading a job's results at once cannot make its consumer, as on a
 * cluster where nats-server places it on a node that is gone.
 */
async function storeWithoutRoomForConsumers(): Promise<JobStore> {
  const bucket = 'rr-full';
  const jsm = await jetstreamManager(t.nc);
  // A bucket as the KV client makes one (direct gets, one value per key), but
  // with the consumer limit the client has no option for.
  await jsm.streams.add({
    name: kvStream(bucket),
    subjects: [kvSubject(bucket, '>')],
    max_msgs_per_subject: 1,
    allow_direct: true,
    allow_rollup_hdrs: true,
    deny_delete: true,
    discard: DiscardPolicy.New,
    max_consumers: 1,
  });
  await jsm.consumers.add(kvStream(bucket), { name: 'holder', ack_policy: AckPolicy.None });
  return openJobStore(t.nc, { ...store.names, responsesBucket: bucket }, systemClock);
}

describe('readResponses', () => {
  it('reads every stored result at once, sorted by host', async () => {
    const id = await answeredQuery(store, [{ host: 'rr-b' }, { host: 'rr-a' }, { host: 'rr-c' }]);
    const got = await readResponses(store, id);
    expect(got.map((r) => r.hostname)).toEqual(['rr-a', 'rr-b', 'rr-c']);
  });

  it('reads a result written several times as its last value, once', async () => {
    const id = await answeredQuery(store, [{ host: 'rr-x' }]);
    const t0 = new Date().toISOString();
    for (const error of ['first', 'second', 'last']) {
      await storeResponse(store, {
        job_id: id,
        hostname: 'rr-x',
        status: 'failed',
        data: null,
        error,
        started_at: t0,
        finished_at: t0,
      });
    }
    const got = await readResponses(store, id);
    expect(got.map((r) => [r.hostname, r.error])).toEqual([['rr-x', 'last']]);
  });

  it('reads a few known hosts by key, making no consumer', async () => {
    // `full` takes no consumer: only reads by key can answer.
    const id = await answeredQuery(full, [{ host: 'rr-b' }, { host: 'rr-a' }]);
    let gathered = 0;
    const got = await readResponses(full, id, () => {
      gathered++;
      // A host that has not answered yet, the API's own pseudo-host, and a repeat.
      return ['rr-b', 'rr-a', 'rr-late', '_api', 'rr-a'];
    });
    expect(gathered).toBe(1);
    expect(got.map((r) => [r.hostname, r.status])).toEqual([
      ['rr-a', 'completed'],
      ['rr-b', 'completed'],
    ]);
  });

  it('reads many known hosts through one consumer, and by key when none can be made', async () => {
    const hosts = Array.from({ length: 40 }, (_, i) => `rr-m${String(i).padStart(2, '0')}`);
    const answered = hosts.slice(0, 35).map((host) => ({ host }));
    for (const s of [store, full]) {
      const id = await answeredQuery(s, answered);
      let gathered = 0;
      const got = await readResponses(s, id, () => {
        gathered++;
        return hosts;
      });
      expect(got.map((r) => r.hostname)).toEqual(hosts.slice(0, 35));
      // Once to see how many there are; again only to read them one by one.
      expect(gathered).toBe(s === full ? 2 : 1);
    }
  });

  it('fails with the reason when no consumer can be made and no host is known', async () => {
    const id = await answeredQuery(full, [{ host: 'rr-a' }]);
    await expect(readResponses(full, id, () => ['_api'])).rejects.toThrow(/maximum consumers/);
  });
});
