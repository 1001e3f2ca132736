// The listener's catch-up and its memory of what it heard
// (src/agent/catch-up.ts) on a made-up stream, without NATS.
import { describe, expect, it } from 'vitest';
import {
  type CatchUpDeps,
  catchUp,
  type FoundNotice,
  firstSeqSince,
  HeardOnce,
  heardKey,
  type NextOn,
  type StoredNotice,
  walkStream,
} from '../../src/agent/catch-up.js';
import type { Target } from '../../src/job/target.js';

const ALL = 'jobs.>';
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/** A stream of `[seq, ms after T0, subject, job id]`; gaps are deleted messages. */
function stream(msgs: Array<[number, number, string, string]>): {
  nextOn: NextOn;
  reads: () => number;
} {
  let reads = 0;
  const stored: StoredNotice[] = msgs.map(([seq, ms, subject, id]) => ({
    seq,
    time: new Date(T0 + ms),
    subject,
    string: () => ` ${id}\n`,
    header: undefined as unknown as StoredNotice['header'],
  }));
  return {
    reads: () => reads,
    nextOn: async (filter, seq) => {
      reads += 1;
      return stored.find((m) => m.seq >= seq && (filter === ALL || m.subject === filter)) ?? null;
    },
  };
}

const HOST: Target = { kind: 'host', hostname: 'h-01' };
const EVERY: Target = { kind: 'all' };
const addressed = (subject: string): Target | null =>
  subject === 'jobs.host.h-01' ? HOST : subject === 'jobs._all' ? EVERY : null;

describe('HeardOnce', () => {
  it('hears a key once until it is forgotten', () => {
    const heard = new HeardOnce(() => T0, 1000);
    const key = heardKey('id-1', 'jobs._all');
    expect(key).toBe('id-1 jobs._all');
    expect(heard.firstTime(key)).toBe(true);
    expect(heard.firstTime(key)).toBe(false);
    expect(heard.firstTime(heardKey('id-1', 'jobs.host.h-01'))).toBe(true);
    heard.forget(key);
    expect(heard.has(key)).toBe(false);
    expect(heard.firstTime(key)).toBe(true);
  });

  it('drops entries older than its window, every 1024th new entry', () => {
    let now = T0;
    const heard = new HeardOnce(() => now, 1000);
    for (let i = 0; i < 1000; i++) heard.firstTime(`old-${i}`);
    now = T0 + 5000;
    for (let i = 0; i < 23; i++) heard.firstTime(`new-${i}`);
    expect(heard.size).toBe(1023);
    heard.firstTime('new-23');
    expect(heard.size).toBe(24);
    expect(heard.has('old-0')).toBe(false);
    expect(heard.has('new-0')).toBe(true);
    // Within the window nothing goes.
    heard.forgetOld();
    expect(heard.size).toBe(24);
  });
});

describe('firstSeqSince', () => {
  const s = stream([
    [3, 100, 'jobs._all', 'a'],
    [4, 200, 'jobs._all', 'b'],
    [7, 300, 'jobs._all', 'c'],
    [8, 400, 'jobs._all', 'd'],
    [12, 500, 'jobs._all', 'e'],
  ]);
  it.each([
    [0, 3],
    [150, 4],
    [200, 4],
    [250, 5],
    [400, 8],
    [450, 9],
    [900, 13],
  ])('since +%i ms: from %i', async (ms, seq) => {
    expect(await firstSeqSince(s.nextOn, ALL, new Date(T0 + ms), 3, 12)).toBe(seq);
  });

  it('reads about log2 of the range', async () => {
    const many = stream(
      Array.from(
        { length: 1000 },
        (_, i) => [i + 1, i, 'jobs._all', `j${i}`] as [number, number, string, string],
      ),
    );
    expect(await firstSeqSince(many.nextOn, ALL, new Date(T0 + 500), 1, 1000)).toBe(501);
    expect(many.reads()).toBeLessThanOrEqual(11);
  });
});

describe('walkStream and catchUp', () => {
  const msgs: Array<[number, number, string, string]> = [
    [1, 0, 'jobs.host.h-01', 'early'],
    [2, 100, 'jobs.host.h-02', 'elsewhere'],
    [3, 200, 'jobs._all', 'b1'],
    [5, 300, 'jobs.host.h-01', 'h1'],
    [6, 400, 'jobs._all', 'b2'],
    [7, 500, 'jobs.host.h-01', 'late'],
  ];

  it('walkStream keeps what is addressed here, in the order sent', async () => {
    const s = stream(msgs);
    const found = await walkStream(s.nextOn, ['jobs._all', 'jobs.host.h-01'], 2, 6, addressed);
    expect(found.map((f) => [f.seq, f.id, f.target.kind])).toEqual([
      [3, 'b1', 'all'],
      [5, 'h1', 'host'],
      [6, 'b2', 'all'],
    ]);
  });

  const deps = (over: Partial<CatchUpDeps> = {}) => {
    const s = stream(msgs);
    const handed: FoundNotice[] = [];
    const d: CatchUpDeps = {
      streamState: async () => ({ messages: 5, first_seq: 1, last_seq: 6 }),
      nextOn: s.nextOn,
      allSubjects: ALL,
      filters: ['jobs._all', 'jobs.host.h-01'],
      addressedHere: addressed,
      worthRunning: async () => true,
      heard: new HeardOnce(() => T0, 60_000),
      handOver: (f) => handed.push(f),
      stopped: () => false,
      ...over,
    };
    return { d, handed };
  };

  it('hands over what was stored since, once, skipping what was heard or is not worth running', async () => {
    const { d, handed } = deps({ worthRunning: async (id) => id !== 'b2' });
    d.heard.firstTime(heardKey('h1', 'jobs.host.h-01'));
    expect(await catchUp(new Date(T0 + 150), d)).toBe(1);
    expect(handed.map((f) => f.id)).toEqual(['b1']);
    expect(d.heard.has(heardKey('b1', 'jobs._all'))).toBe(true);
    expect(d.heard.has(heardKey('b2', 'jobs._all'))).toBe(false);
    // A second catch-up over the same span hands over nothing more.
    expect(await catchUp(new Date(T0 + 150), d)).toBe(0);
  });

  it('an empty stream reads nothing; a stopped listener hands over nothing', async () => {
    let reads = 0;
    const empty = deps({
      streamState: async () => ({ messages: 0, first_seq: 0, last_seq: 0 }),
      nextOn: async () => {
        reads += 1;
        return null;
      },
    });
    expect(await catchUp(new Date(T0), empty.d)).toBe(0);
    expect(reads).toBe(0);
    const stopped = deps({ stopped: () => true });
    expect(await catchUp(new Date(T0), stopped.d)).toBe(0);
    expect(stopped.handed).toEqual([]);
  });
});
