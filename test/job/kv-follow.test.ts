// Following a KV bucket: each key's last value, then changes; and on when the
// consumer behind the follow is lost (as when the cluster node holding it
// dies), without a change missed or heard twice.
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { followKv, type KvChange, type KvFollow } from '../../src/job/kv-follow.js';
import { watchResponses } from '../../src/job/response-watch.js';
import { kvStream } from '../../src/names/names.js';
import { connectNats } from '../../src/nats/connection.js';
import { waitFor } from '../api/helpers.js';
import { silentLogger, useTestNats } from '../support/nats.js';
import { testClient } from '../support/settings.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const t = useTestNats();

async function bucket(name: string) {
  return new Kvm(t.nc).create(name, { history: 1 });
}

/** Follows `name` (on `on`, this test's connection by default), recording each change as "op key=value". */
async function follow(name: string, from: 'last' | 'updates', keys = '>', on = t.nc) {
  const seen: string[] = [];
  const f: KvFollow = await followKv(
    { nc: on, js: (await jetstreamManager(on)).jetstream(), bucket: name },
    { keys, from, logger: silentLogger },
    (c: KvChange) => seen.push(`${c.operation} ${c.key}=${new TextDecoder().decode(c.value)}`),
  );
  return { seen, follow: f };
}

describe('followKv', () => {
  it('delivers each key’s last value, marks loaded, then follows changes and deletes', async () => {
    const kv = await bucket('fk-last');
    await kv.put('a.1', 'old');
    await kv.put('a.1', 'new');
    await kv.put('b.1', 'other');
    const { seen, follow: f } = await follow('fk-last', 'last', 'a.>');
    try {
      await f.loaded;
      expect(seen).toEqual(['PUT a.1=new']);
      await kv.put('a.2', 'x');
      await kv.delete('a.1');
      await waitFor('the changes', () => seen.length === 3);
      expect(seen).toEqual(['PUT a.1=new', 'PUT a.2=x', 'DEL a.1=']);
    } finally {
      f.stop();
    }
  });

  it('with `updates`, hears only what changes after it started', async () => {
    const kv = await bucket('fk-updates');
    await kv.put('k', 'before');
    const { seen, follow: f } = await follow('fk-updates', 'updates');
    const jsm = await jetstreamManager(t.nc);
    const consumers = async () => (await jsm.consumers.list(kvStream('fk-updates')).next()).length;
    try {
      await f.loaded;
      await kv.put('k', 'after');
      await waitFor('the change', () => seen.length === 1);
      expect(seen).toEqual(['PUT k=after']);
      expect(await consumers()).toBe(1);
    } finally {
      f.stop();
    }
    // Stopping a follow deletes its consumer.
    await waitFor('the consumer to be deleted', async () => (await consumers()) === 0);
  });

  it('a response watch tells whether its follow was cut since a time', async () => {
    const kv = await bucket('fk-rw');
    const jsm = await jetstreamManager(t.nc);
    const watch = await watchResponses(
      { nc: t.nc, js: jsm.jetstream(), bucket: 'fk-rw' },
      silentLogger,
    );
    try {
      const before = new Date();
      expect(watch.cutSince(before)).toBe(false);
      const consumers = await jsm.consumers.list(kvStream('fk-rw')).next();
      await jsm.consumers.delete(kvStream('fk-rw'), consumers[0]?.name ?? '');
      await waitFor('the follow cut', () => watch.cutSince(before), 15_000);
      // Followed again: cut since `before`, not since now.
      await kv.put('x', '1');
      await waitFor(
        'followed again',
        async () => (await jsm.consumers.list(kvStream('fk-rw')).next()).length === 1,
        15_000,
      );
      await waitFor('following again', () => !watch.cutSince(new Date(Date.now() + 1)), 15_000);
      expect(watch.cutSince(before)).toBe(true);
    } finally {
      watch.stop();
    }
  });

  it('goes on from the next change when its consumer is deleted from under it', async () => {
    const kv = await bucket('fk-lost');
    const jsm = await jetstreamManager(t.nc);
    const { seen, follow: f } = await follow('fk-lost', 'last');
    try {
      await kv.put('k1', '1');
      await waitFor('the first change', () => seen.length === 1);
      const consumers = await jsm.consumers.list(kvStream('fk-lost')).next();
      expect(consumers).toHaveLength(1);
      const before = f.followingSince;
      expect(before).not.toBeNull();
      await jsm.consumers.delete(kvStream('fk-lost'), consumers[0]?.name ?? '');
      // Cut (null while it is), then going on again from a later time.
      await waitFor('the follow to be cut', () => f.followingSince !== before, 15_000);
      // Other keys: with history 1, a key's older value is gone once it changes again.
      await kv.put('k2', '2');
      await kv.put('k3', '3');
      // Seconds at most, not the minute kv.watch() takes to notice.
      await waitFor('the changes after the loss', () => seen.length >= 3, 15_000);
      expect(seen).toEqual(['PUT k1=1', 'PUT k2=2', 'PUT k3=3']);
      expect(await jsm.consumers.list(kvStream('fk-lost')).next()).toHaveLength(1);
      expect(f.followingSince?.getTime()).toBeGreaterThan(before?.getTime() ?? Infinity);
    } finally {
      f.stop();
    }
  });

  it.each([
    ['a bucket written to before', 'fk-away', true],
    ['an empty bucket', 'fk-away-empty', false],
  ])(
    'cut off before its first change and back, on %s: goes on from where it began, nothing twice',
    async (_, name, written) => {
      const kv = await bucket(name);
      if (written) await kv.put('before', '0');
      const proxy = await startTcpProxy(t.server.port);
      const away = await connectNats({
        settings: testClient(proxy.url, name),
        logger: silentLogger,
      });
      const jsm = await jetstreamManager(t.nc);
      const { seen, follow: f } = await follow(name, 'updates', '>', away);
      try {
        const [first] = await jsm.consumers.list(kvStream(name)).next();
        proxy.cut();
        await kv.put('k1', '1');
        await kv.put('k2', '2');
        proxy.restore();
        await waitFor('the changes made while it was away', () => seen.length >= 2, 15_000);
        await kv.put('k3', '3');
        await waitFor('the change after', () => seen.length >= 3);
        expect(seen).toEqual(['PUT k1=1', 'PUT k2=2', 'PUT k3=3']);
        // Followed again on a new consumer; the one from before the break is gone.
        const names = (await jsm.consumers.list(kvStream(name)).next()).map((c) => c.name);
        expect(names).toHaveLength(1);
        expect(names).not.toContain(first?.name);
      } finally {
        f.stop();
        await away.close();
        await proxy.close();
      }
    },
  );
});
