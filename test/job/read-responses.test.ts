// A job's results are read through one short-lived consumer. When that
// consumer cannot be made (on a cluster, nats-server 2.9 may place it on the
// node that is gone), each known host's result is read by its key instead,
// so GET /job/{id} still answers with what is stored.
import type { JetStreamClient } from '@nats-io/jetstream';
import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/job/clock.js';
import { infraNames } from '../../src/job/names.js';
import {
  type JobStore,
  openJobStore,
  publishJob,
  readResponses,
  storeResponse,
} from '../../src/job/store.js';
import { ensureLayout } from '../../src/nats/layout.js';
import { useTestNats } from '../support/nats.js';
import { testLayout } from '../support/settings.js';

const t = useTestNats();
let store: JobStore;

beforeAll(async () => {
  const layout = testLayout('rr');
  await ensureLayout(t.nc, layout);
  store = await openJobStore(t.nc, infraNames(layout), systemClock);
});

/** A job answered by `hosts`, each result stored under its own key. */
async function answeredBy(hosts: string[]): Promise<string> {
  const job = await publishJob(store, {
    type: 'node.hostname.get',
    data: {},
    target: { kind: 'all' },
    createdBy: 'read-test',
    startWithinMs: 60_000,
    expectedHosts: hosts,
  });
  const now = systemClock.now().toISOString();
  for (const host of hosts) {
    await storeResponse(store, {
      job_id: job.id,
      hostname: host,
      status: 'completed',
      data: { labels: {}, os_hostname: host },
      started_at: now,
      finished_at: now,
    });
  }
  return job.id;
}

/** The same store, but no consumer can be made on it. */
function withoutConsumers(s: JobStore): JobStore {
  const refuse = () => Promise.reject(new Error('consumer create timed out'));
  const js = new Proxy(s.js, {
    get(target, prop, receiver) {
      if (prop !== 'consumers') return Reflect.get(target, prop, receiver);
      return new Proxy(target.consumers, {
        get: (c, p, r) => (p === 'get' ? refuse : Reflect.get(c, p, r)),
      });
    },
  }) as JetStreamClient;
  return { ...s, js };
}

describe('readResponses', () => {
  it('reads every stored result at once, sorted by host', async () => {
    const id = await answeredBy(['rr-b', 'rr-a', 'rr-c']);
    const got = await readResponses(store, id);
    expect(got.map((r) => r.hostname)).toEqual(['rr-a', 'rr-b', 'rr-c']);
  });

  it('reads the known hosts one by one when no consumer can be made', async () => {
    const id = await answeredBy(['rr-b', 'rr-a']);
    let gathered = 0;
    const got = await readResponses(withoutConsumers(store), id, () => {
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

  it('does not gather the known hosts when reading at once works', async () => {
    const id = await answeredBy(['rr-a']);
    let gathered = false;
    const got = await readResponses(store, id, () => {
      gathered = true;
      return [];
    });
    expect(got).toHaveLength(1);
    expect(gathered).toBe(false);
  });

  it('fails with the reason when no consumer can be made and no host is known', async () => {
    const id = await answeredBy(['rr-a']);
    await expect(readResponses(withoutConsumers(store), id, () => ['_api'])).rejects.toThrow(
      /consumer create timed out/,
    );
  });
});
