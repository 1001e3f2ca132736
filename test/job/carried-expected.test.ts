// A broadcast's notification carries the hosts it was sent to, so that each
// agent checks it is one of them without a read from KV: as JSON when short,
// deflated when long (a fleet's names share most of their letters), and
// within the size a notification may carry. A deflated header that is not a
// list, or that would inflate past its bound, is refused as unreadable.
import { deflateRawSync } from 'node:zlib';
import { headers, type Msg } from '@nats-io/transport-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/job/clock.js';
import { RecordError } from '../../src/job/records.js';
import { expectedDigest } from '../../src/job/signing.js';
import { carriedExpectedHosts, type JobStore, openJobStore } from '../../src/job/store.js';
import {
  EXPECTED_DEFLATED_HEADER,
  EXPECTED_HEADER,
  infraNames,
  notifySubject,
} from '../../src/names/names.js';
import { ensureLayout } from '../../src/nats/layout.js';
import { publishBroadcastQuery } from '../api/helpers.js';
import { useTestNats } from '../support/nats.js';
import { testLayout } from '../support/settings.js';

const t = useTestNats();
let store: JobStore;

beforeAll(async () => {
  const layout = testLayout('ce');
  await ensureLayout(t.nc, layout);
  store = await openJobStore(t.nc, infraNames(layout), systemClock);
});

/** Publishes a broadcast to `hosts` and returns its notification as heard, with the record. */
async function broadcastTo(hosts: string[]) {
  const subject = notifySubject(store.names, 'query', { kind: 'all' });
  const sub = t.nc.subscribe(subject, { max: 1 });
  const heard = (async () => {
    for await (const m of sub) return m;
    throw new Error('no notification');
  })();
  await t.nc.flush();
  const record = await publishBroadcastQuery(store, hosts);
  const msg: Msg = await heard;
  return { record, msg };
}

const fleet = (n: number) =>
  Array.from({ length: n }, (_, i) => `web-${String(i).padStart(4, '0')}.dc1.example.com`);

describe('the expected hosts a broadcast carries', () => {
  it('are plain JSON for a short list', async () => {
    const hosts = ['a', 'b', 'c'];
    const { record, msg } = await broadcastTo(hosts);
    expect(msg.headers?.get(EXPECTED_HEADER)).toBe(JSON.stringify(hosts));
    expect(msg.headers?.has(EXPECTED_DEFLATED_HEADER)).toBe(false);
    expect(carriedExpectedHosts(msg.headers)).toEqual(hosts);
    expect(record.expected_digest).toBe(expectedDigest(hosts));
  });

  it('are deflated for a long one, which then fits a notification (3,000 hosts)', async () => {
    const hosts = fleet(3000);
    // 81 KB as JSON: far past the 16 KiB a notification carries.
    expect(JSON.stringify(hosts).length).toBeGreaterThan(80_000);
    const { record, msg } = await broadcastTo(hosts);
    expect(msg.headers?.has(EXPECTED_HEADER)).toBe(false);
    const deflated = msg.headers?.get(EXPECTED_DEFLATED_HEADER) ?? '';
    expect(deflated.length).toBeGreaterThan(0);
    expect(deflated.length).toBeLessThanOrEqual(16 * 1024);
    const carried = carriedExpectedHosts(msg.headers);
    expect(carried).toEqual(hosts);
    // What the agent checks: the list carried is the one the API signed.
    expect(expectedDigest(carried ?? [])).toBe(record.expected_digest);
  });

  it('refuses a deflated header that is not a deflated list', () => {
    const h = headers();
    h.set(EXPECTED_DEFLATED_HEADER, Buffer.from('not deflate at all').toString('base64'));
    expect(() => carriedExpectedHosts(h)).toThrow(RecordError);
    const notAList = headers();
    notAList.set(
      EXPECTED_DEFLATED_HEADER,
      deflateRawSync(JSON.stringify({ hosts: ['a'] })).toString('base64'),
    );
    expect(() => carriedExpectedHosts(notAList)).toThrow(RecordError);
  });

  it('refuses one that would inflate past its bound, without inflating it whole', () => {
    // 16 MB of one letter deflates to about 16 KB: twice the bound once inflated.
    const bomb = deflateRawSync(Buffer.alloc(16 * 1024 * 1024, 'a'.charCodeAt(0)));
    const h = headers();
    h.set(EXPECTED_DEFLATED_HEADER, bomb.toString('base64'));
    expect(() => carriedExpectedHosts(h)).toThrow(/at most 8388608 bytes/);
  });
});
