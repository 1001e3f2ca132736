// When an agent counts as Ready: a heartbeat within the registry's TTL, or,
// when its next beat fell due while the registry stored nothing (a node
// lost, an election, where an unacknowledged beat is lost without a word),
// one interval more. Unit checks of the rule, then the view over a real
// bucket: beats published plainly while the registry's stream cannot store
// them, as during an election.
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { type Clock, systemClock } from '../../src/job/clock.js';
import { heartbeatInterval } from '../../src/job/heartbeat.js';
import { isReady, watchRegistry } from '../../src/job/registry-view.js';
import { registryEntry } from '../api/helpers.js';
import { silentLogger, useTestNats } from '../support/nats.js';

const TTL = 30_000;
const EVERY = heartbeatInterval(TTL);

describe('isReady', () => {
  it('beats every two thirds of the TTL, at most 20 s', () => {
    expect(heartbeatInterval(30_000)).toBe(20_000);
    expect(heartbeatInterval(9_000)).toBe(6_000);
    expect(heartbeatInterval(90_000)).toBe(20_000);
  });

  it('is Ready within the TTL and not past it, without a stall', () => {
    expect(isReady(0, TTL - 1, TTL, [])).toBe(true);
    expect(isReady(0, TTL, TTL, [])).toBe(false);
  });

  it('gives one interval more when the next beat fell due during a stall', () => {
    const stall = { start: EVERY - 2_000, end: EVERY + 5_000 };
    expect(isReady(0, TTL + 5_000, TTL, [stall])).toBe(true);
    expect(isReady(0, TTL + EVERY - 1, TTL, [stall])).toBe(true);
    // Its next beat (one interval later) would have come by then: silence now means gone.
    expect(isReady(0, TTL + EVERY, TTL, [stall])).toBe(false);
  });

  it('gives nothing for a stall its next beat was not due in', () => {
    const early = { start: 2_000, end: 8_000 };
    const late = { start: EVERY + 3_000, end: EVERY + 9_000 };
    expect(isReady(0, TTL + 1_000, TTL, [early])).toBe(false);
    expect(isReady(0, TTL + 1_000, TTL, [late])).toBe(false);
  });
});

describe('the registry view across a stall', () => {
  const t = useTestNats();

  it('keeps an agent Ready whose beat fell in a stall the others ended', async () => {
    const bucket = `reg-${crypto.randomUUID().slice(0, 8)}`;
    const kv = await new Kvm(t.nc).create(bucket, { history: 1 });
    // The view's clock, set by the test; the beats' stored times are the server's.
    let now = Date.now();
    const clock: Clock = { ...systemClock, now: () => new Date(now) };
    // A 3 s TTL beats every 2 s: a silence of 3.5 s holds a beat that never came.
    const ttlMs = 3_000;
    const every = heartbeatInterval(ttlMs);
    const view = await watchRegistry(
      { nc: t.nc, js: jetstream(t.nc), bucket },
      { ttlMs, clock, logger: silentLogger },
    );
    const quiet = () => view.agents().find((a) => a.info.hostname === 'quiet');
    try {
      await view.loaded;
      // Eleven agents beating every 2 s: a beat every 0.2 s or so, so 3.5 s of silence is a stall.
      await kv.put('agents.quiet', registryEntry('quiet'));
      for (let i = 0; i < 10; i++) await kv.put(`agents.busy${i}`, registryEntry(`busy${i}`));
      expect(await view.waitFor((v) => v.agents().length === 11, 5_000)).toBe(true);
      const seenAt = quiet()?.seenAt.getTime() ?? Number.NaN;
      // A silence still going on, long enough to be a stall (the view's clock moved on):
      // quiet's next beat fell due in it.
      const byHost = () => view.matching({ kind: 'host', hostname: 'quiet' });
      now = seenAt + ttlMs + 500;
      expect(quiet()?.ready).toBe(true);
      expect(byHost().map((a) => a.info.hostname)).toEqual(['quiet']);
      now = seenAt + ttlMs + every + 500;
      expect(quiet()?.ready).toBe(false);
      expect(byHost()).toEqual([]);
      // Nothing stored for longer than a stall, then one of the others beats again.
      await new Promise((r) => setTimeout(r, 3_500));
      await kv.put('agents.busy0', registryEntry('busy0'));
      expect(
        await view.waitFor(
          (v) => v.agents().some((a) => a.seenAt.getTime() >= seenAt + 3_000),
          5_000,
        ),
      ).toBe(true);
      // Past the TTL of its last beat, within one interval more: Ready.
      now = seenAt + ttlMs + 500;
      expect(quiet()?.ready).toBe(true);
      now = seenAt + ttlMs + every + 500;
      expect(quiet()?.ready).toBe(false);
    } finally {
      view.stop();
      await kv.destroy();
    }
  });

  it('finds one host by its name as a scan of every agent would, a dotted name too', async () => {
    const bucket = `reg-${crypto.randomUUID().slice(0, 8)}`;
    const kv = await new Kvm(t.nc).create(bucket, { history: 1 });
    const view = await watchRegistry(
      { nc: t.nc, js: jetstream(t.nc), bucket },
      { ttlMs: 30_000, clock: systemClock, logger: silentLogger },
    );
    try {
      await view.loaded;
      await kv.put('agents.web-01=example=com', registryEntry('web-01.example.com'));
      await kv.put('agents.web-02', registryEntry('web-02'));
      expect(await view.waitFor((v) => v.agents().length === 2, 5_000)).toBe(true);
      for (const hostname of ['web-01.example.com', 'web-02', 'web-03', 'web-01']) {
        const scanned = view
          .agents()
          .filter((a) => a.ready && a.info.hostname === hostname)
          .map((a) => a.info.hostname);
        const found = view.matching({ kind: 'host', hostname }).map((a) => a.info.hostname);
        expect(found).toEqual(scanned);
      }
      expect(view.matching({ kind: 'host', hostname: 'web-01.example.com' })).toHaveLength(1);
      expect([...view.stored()].map((i) => i.hostname).sort()).toEqual([
        'web-01.example.com',
        'web-02',
      ]);
    } finally {
      view.stop();
      await kv.destroy();
    }
  });

  it('gives nothing to an agent silent past its TTL when nothing else was stored', async () => {
    const bucket = `reg-${crypto.randomUUID().slice(0, 8)}`;
    const kv = await new Kvm(t.nc).create(bucket, { history: 1 });
    let now = Date.now();
    const clock: Clock = { ...systemClock, now: () => new Date(now) };
    const view = await watchRegistry(
      { nc: t.nc, js: jetstream(t.nc), bucket },
      { ttlMs: 3_000, clock, logger: silentLogger },
    );
    try {
      await view.loaded;
      await kv.put('agents.gone', registryEntry('gone'));
      expect(await view.waitFor((v) => v.agents().length === 1, 5_000)).toBe(true);
      const seenAt = view.agents()[0]?.seenAt.getTime() ?? Number.NaN;
      now = seenAt + 3_500;
      expect(view.agents()[0]?.ready).toBe(false);
      // Listed as stored all the same, NotReady or not: what enrollment scans.
      expect([...view.stored()].map((i) => i.hostname)).toEqual(['gone']);
    } finally {
      view.stop();
      await kv.destroy();
    }
  });
});
