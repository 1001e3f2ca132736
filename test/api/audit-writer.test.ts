// The audit writer's bounds, without NATS: what a path becomes, what the
// other texts and lists of an entry become, the rate per source address and
// per token subject, how many writes run at once, how many times one is
// tried, which kind goes first, and what a stop does with what is left.
import { Writable } from 'node:stream';
import type { KV } from '@nats-io/kv';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_FIELD_MAX_BYTES,
  AUDIT_LIST_MAX_BYTES,
  boundedEntry,
  recordedList,
  recordedText,
} from '../../src/api/audit/fields.js';
import { type AuditDropReason, AuditLog } from '../../src/api/audit/log.js';
import { AUDIT_PATH_MAX_BYTES, recordedPath } from '../../src/api/audit/path.js';
import { RateLimiter, SourceRateLimiter, sourceKey } from '../../src/api/audit/rate-limit.js';
import type { AuditEntry } from '../../src/contract/audit.js';
import { newTimeOrderedId } from '../../src/job/ids.js';

describe('recordedPath', () => {
  it('keeps a short path as it is', () => {
    expect(recordedPath('/node/web-01/command/exec')).toBe('/node/web-01/command/exec');
  });

  it('never keeps the query string or a fragment, only that there was one', () => {
    expect(recordedPath('/job?token=secret&status=failed')).toBe('/job [query omitted]');
    expect(recordedPath('/job#token=secret')).toBe('/job [query omitted]');
    expect(recordedPath('/job?')).toBe('/job [query omitted]');
  });

  it('cuts a long path to 1 KiB, saying where and how long it was', () => {
    const long = `/${'a'.repeat(15_000)}`;
    const p = recordedPath(`${long}?token=secret`);
    expect(Buffer.byteLength(p)).toBeLessThanOrEqual(AUDIT_PATH_MAX_BYTES);
    expect(p.startsWith('/aaaa')).toBe(true);
    expect(p.endsWith(' [cut: 15001 bytes] [query omitted]')).toBe(true);
    expect(p).not.toContain('secret');
    expect(Buffer.byteLength(recordedPath(long))).toBe(AUDIT_PATH_MAX_BYTES);
  });

  it('counts bytes, not characters, and never splits a character', () => {
    const p = recordedPath(`/${'é'.repeat(2000)}`);
    expect(Buffer.byteLength(p)).toBeLessThanOrEqual(AUDIT_PATH_MAX_BYTES);
    expect(p).toMatch(/^\/é+ \[cut: 4001 bytes\]$/);
  });

  it('takes a missing target as empty', () => {
    expect(recordedPath(undefined)).toBe('');
  });
});

describe('the other texts and lists of an entry', () => {
  const listBytes = (xs: string[]) => xs.reduce((n, x) => n + Buffer.byteLength(x) + 1, 0);

  it('keeps a text up to 1 KiB, and cuts a longer one, saying how long it was', () => {
    expect(recordedText('x'.repeat(AUDIT_FIELD_MAX_BYTES))).toBe('x'.repeat(AUDIT_FIELD_MAX_BYTES));
    const cut = recordedText('x'.repeat(65_536));
    expect(Buffer.byteLength(cut)).toBe(AUDIT_FIELD_MAX_BYTES);
    expect(cut).toMatch(/^x+ \[cut: 65536 bytes\]$/);
    // Bytes, not characters, and never half a character.
    expect(recordedText('é'.repeat(600))).toMatch(/^é+ \[cut: 1200 bytes\]$/);
  });

  it('keeps a list up to 4 KiB in all, each element cut to 1 KiB', () => {
    const list = ['-l', 'x'.repeat(2000), '/var/log/syslog'];
    expect(recordedList(list)).toEqual(['-l', recordedText('x'.repeat(2000)), '/var/log/syslog']);
  });

  it('cuts a longer list, ending it with how many elements and bytes it left out', () => {
    const big = Array.from({ length: 14 }, () => 'a'.repeat(64_000));
    const cutBig = recordedList(big);
    expect(cutBig).toHaveLength(4);
    expect(cutBig.slice(0, 3)).toEqual(Array(3).fill(recordedText('a'.repeat(64_000))));
    expect(cutBig[3]).toBe(`[cut: 11 more, ${11 * 64_000} bytes]`);
    expect(listBytes(cutBig)).toBeLessThanOrEqual(AUDIT_LIST_MAX_BYTES);

    // Many small (or empty) elements are bounded too: each counts one byte more.
    for (const item of ['', 'b', 'b'.repeat(100)]) {
      const many = Array.from({ length: 5000 }, () => item);
      const cut = recordedList(many);
      expect(listBytes(cut)).toBeLessThanOrEqual(AUDIT_LIST_MAX_BYTES);
      const kept = cut.length - 1;
      expect(kept).toBeGreaterThan(0);
      expect(cut.slice(0, kept)).toEqual(Array(kept).fill(item));
      expect(cut.at(-1)).toBe(`[cut: ${5000 - kept} more, ${(5000 - kept) * item.length} bytes]`);
    }
  });

  it('bounds every text and list of an entry, and changes nothing the second time', () => {
    const long = 'z'.repeat(5000);
    const whole: AuditEntry = {
      ...entry('alice'),
      user: long,
      roles: Array.from({ length: 10 }, () => long),
      method: long,
      path: long,
      operation_id: long,
      source_ip: long,
      target: long,
      command: long,
      args: Array.from({ length: 10 }, () => long),
      run_as: long,
      env_names: Array.from({ length: 10 }, () => long),
      request_id: long,
    };
    const bounded = boundedEntry(whole);
    expect(bounded.id).toBe(whole.id);
    for (const k of [
      'user',
      'method',
      'path',
      'operation_id',
      'source_ip',
      'target',
      'command',
      'run_as',
      'request_id',
    ] as const) {
      expect(bounded[k], k).toBe(recordedText(long));
    }
    for (const k of ['roles', 'args', 'env_names'] as const) {
      expect(bounded[k], k).toEqual(recordedList(whole[k] ?? []));
    }
    expect(Buffer.byteLength(JSON.stringify(bounded))).toBeLessThan(24 * 1024);
    expect(boundedEntry(bounded)).toEqual(bounded);
    // A small entry is as it was.
    const small = entry('alice');
    expect(boundedEntry(small)).toEqual(small);
  });
});

describe('per-source rate limit', () => {
  it('keys IPv4 by address (also IPv4-mapped) and IPv6 by its /64', () => {
    expect(sourceKey('192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:0db8:0001:0002:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(sourceKey(undefined)).toBe('unknown');
  });

  it('allows a burst, then the rate, per source', () => {
    let now = 0;
    const limiter = new SourceRateLimiter({ perMinute: 60, burst: 3 }, () => now);
    const taken = Array.from({ length: 5 }, () => limiter.take('192.0.2.1'));
    expect(taken).toEqual([true, true, true, false, false]);
    // Another source has its own bucket.
    expect(limiter.take('192.0.2.2')).toBe(true);
    // One a second at 60 a minute.
    now += 1000;
    expect(limiter.take('192.0.2.1')).toBe(true);
    expect(limiter.take('192.0.2.1')).toBe(false);
    // Never more than the burst, however long it waited.
    now += 3_600_000;
    expect(Array.from({ length: 4 }, () => limiter.take('192.0.2.1'))).toEqual([
      true,
      true,
      true,
      false,
    ]);
  });

  it('records none at rate 0', () => {
    expect(new SourceRateLimiter({ perMinute: 0, burst: 5 }).take('192.0.2.1')).toBe(false);
  });

  it('says how long until a key that is refused has one again', () => {
    let now = 0;
    const limiter = new RateLimiter({ perMinute: 600, burst: 2 }, () => now);
    expect([limiter.takeOrWait('alice'), limiter.takeOrWait('alice')]).toEqual([0, 0]);
    // One every 100 ms at 600 a minute.
    expect(limiter.takeOrWait('alice')).toBe(100);
    now += 40;
    expect(limiter.takeOrWait('alice')).toBe(60);
    expect(limiter.takeOrWait('bob')).toBe(0);
    now += 60;
    expect(limiter.takeOrWait('alice')).toBe(0);
    expect(new RateLimiter({ perMinute: 0, burst: 1 }).takeOrWait('x')).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
});

/** A log line captured from the writer's logger. */
type Line = Record<string, unknown> & { msg?: string; audit_entry?: AuditEntry };

function capturedLogger() {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, stream), lines };
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A bucket whose every put waits for the test to settle it. */
function heldBucket() {
  const puts: Array<{ key: string; entry: AuditEntry; done: Deferred }> = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  const bucket = {
    put(key: string, value: string) {
      const done = deferred();
      puts.push({ key, entry: JSON.parse(value) as AuditEntry, done });
      if (waiter && puts.length >= waiter.n) waiter.resolve();
      return done.promise.then(() => 1);
    },
  } as unknown as KV;
  return {
    bucket,
    puts,
    /** Resolves once `n` puts have been made in all. */
    reached(n: number): Promise<void> {
      if (puts.length >= n) return Promise.resolve();
      return new Promise((resolve) => {
        waiter = { n, resolve };
      });
    },
  };
}

function entry(user: string, sourceIp = '192.0.2.1'): AuditEntry {
  return {
    id: newTimeOrderedId(),
    timestamp: new Date().toISOString(),
    user,
    roles: user ? ['admin'] : [],
    method: 'GET',
    path: '/agent',
    operation_id: 'getAgents',
    source_ip: sourceIp,
    response_code: user ? 200 : 401,
    duration_ms: 1,
  };
}

describe('AuditLog', () => {
  it('writes at most `concurrency` entries at once', async () => {
    const held = heldBucket();
    const { logger } = capturedLogger();
    const log = new AuditLog({
      buckets: { authenticated: held.bucket, unauthenticated: held.bucket },
      logger,
      concurrency: 3,
    });
    for (let i = 0; i < 10; i++) log.enqueue(entry('alice'));
    await held.reached(3);
    // Three are in flight; the other seven wait their turn.
    expect(held.puts).toHaveLength(3);
    expect(log.backlog).toBe(10);
    for (let settled = 0; settled < 10; settled++) {
      await held.reached(Math.min(10, settled + 3));
      held.puts[settled]?.done.resolve();
    }
    expect(await log.flush(5000)).toBe(true);
    expect(held.puts).toHaveLength(10);
    expect(log.backlog).toBe(0);
    expect(log.failures).toBe(0);
  });

  it('writes authenticated entries before waiting unauthenticated ones, each to its own bucket', async () => {
    const authenticated = heldBucket();
    const unauthenticated = heldBucket();
    const { logger } = capturedLogger();
    const log = new AuditLog({
      buckets: { authenticated: authenticated.bucket, unauthenticated: unauthenticated.bucket },
      logger,
      concurrency: 1,
      unauthenticatedLimit: { perMinute: 60, burst: 100 },
    });
    const first = entry('');
    log.enqueue(first);
    await unauthenticated.reached(1);
    // While the only worker is busy: three more without a token, then one with.
    for (let i = 0; i < 3; i++) log.enqueue(entry(''));
    const admin = entry('alice');
    log.enqueue(admin);
    unauthenticated.puts[0]?.done.resolve();
    await authenticated.reached(1);
    expect(authenticated.puts[0]?.entry.id).toBe(admin.id);
    expect(unauthenticated.puts).toHaveLength(1);
    authenticated.puts[0]?.done.resolve();
    for (let i = 1; i < 4; i++) {
      await unauthenticated.reached(i + 1);
      unauthenticated.puts[i]?.done.resolve();
    }
    expect(await log.flush(5000)).toBe(true);
    expect(unauthenticated.puts.map((p) => p.entry.user)).toEqual(['', '', '', '']);
  });

  it('tries a failing write a bounded number of times, then logs the whole entry and counts it', async () => {
    let attempts = 0;
    const failing = {
      put: async () => {
        attempts++;
        throw new Error('maximum bytes exceeded');
      },
    } as unknown as KV;
    const { logger, lines } = capturedLogger();
    let failures = 0;
    const log = new AuditLog({
      buckets: { authenticated: failing, unauthenticated: failing },
      logger,
      retryDelaysMs: [1, 1],
      onWriteFailure: () => failures++,
    });
    const e = entry('alice');
    log.enqueue(e);
    expect(await log.flush(5000)).toBe(true);
    expect(attempts).toBe(3);
    expect(failures).toBe(1);
    expect(log.failures).toBe(1);
    const lost = lines.filter((l) => l.audit_entry);
    expect(lost).toHaveLength(1);
    expect(lost[0]?.audit_entry).toEqual(e);
  });

  it('rate-limits unauthenticated entries per source and bounds their share of the queue, counting what it drops', async () => {
    const held = heldBucket();
    const { logger, lines } = capturedLogger();
    const dropped: AuditDropReason[] = [];
    const log = new AuditLog({
      buckets: { authenticated: held.bucket, unauthenticated: held.bucket },
      logger,
      concurrency: 1,
      maxQueuedUnauthenticated: 3,
      unauthenticatedLimit: { perMinute: 60, burst: 2 },
      onDropped: (r) => dropped.push(r),
    });
    for (let i = 0; i < 5; i++) log.enqueue(entry('', '192.0.2.1'));
    expect(dropped).toEqual(['rate_limited', 'rate_limited', 'rate_limited']);
    // Other sources, each within its burst: one is in flight, three wait, the rest find no room.
    for (let i = 0; i < 4; i++) log.enqueue(entry('', `198.51.100.${i}`));
    expect(dropped.filter((r) => r === 'queue_full')).toHaveLength(2);
    // Authenticated entries are never rate-limited, nor kept out by the other kind.
    for (let i = 0; i < 10; i++) log.enqueue(entry('alice'));
    expect(dropped).toHaveLength(5);
    expect(log.backlog).toBe(14);
    // Counted, and summarised in the log rather than one line per entry.
    const summaries = lines.filter((l) => l.dropped);
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries.length).toBeLessThan(dropped.length);
    await log.close(10);
  });

  it('bounds an entry before it is queued, written or logged', async () => {
    const held = heldBucket();
    const { logger } = capturedLogger();
    const log = new AuditLog({
      buckets: { authenticated: held.bucket, unauthenticated: held.bucket },
      logger,
    });
    const args = Array.from({ length: 14 }, () => 'a'.repeat(64_000));
    log.enqueue({ ...entry('alice'), command: 'c'.repeat(60_000), args });
    await held.reached(1);
    const stored = held.puts[0]?.entry;
    expect(stored?.command).toBe(recordedText('c'.repeat(60_000)));
    expect(stored?.args).toEqual(recordedList(args));
    held.puts[0]?.done.resolve();
    expect(await log.flush(5000)).toBe(true);

    const put: string[] = [];
    const direct = new AuditLog({
      buckets: {
        authenticated: { put: async (_k: string, v: string) => put.push(v) } as unknown as KV,
        unauthenticated: held.bucket,
      },
      logger,
    });
    await direct.writeNow({ ...entry('alice'), args });
    expect((JSON.parse(put[0] ?? '{}') as AuditEntry).args).toEqual(recordedList(args));
  });

  it('admits each token subject up to its rate, counting what it refuses', () => {
    const { logger, lines } = capturedLogger();
    const dropped: AuditDropReason[] = [];
    const log = new AuditLog({
      buckets: { authenticated: heldBucket().bucket, unauthenticated: heldBucket().bucket },
      logger,
      userLimit: { perMinute: 60, burst: 3 },
      onDropped: (r) => dropped.push(r),
    });
    expect(log.userLimit).toEqual({ perMinute: 60, burst: 3 });
    const alice = Array.from({ length: 5 }, () => log.admitUser('alice'));
    expect(alice.slice(0, 3)).toEqual([0, 0, 0]);
    for (const waitMs of alice.slice(3)) {
      expect(waitMs).toBeGreaterThan(0);
      expect(waitMs).toBeLessThanOrEqual(1000);
    }
    // Another subject has its own.
    expect(log.admitUser('bob')).toBe(0);
    expect(dropped).toEqual(['user_rate_limited', 'user_rate_limited']);
    expect(lines.filter((l) => l.dropped)[0]?.dropped).toEqual({
      rate_limited: 0,
      queue_full: 0,
      user_rate_limited: 1,
    });
  });

  it("takes from a subject's rate once more for each further KiB its entry takes", async () => {
    const held = heldBucket();
    const { logger } = capturedLogger();
    const log = new AuditLog({
      buckets: { authenticated: held.bucket, unauthenticated: held.bucket },
      logger,
      userLimit: { perMinute: 60, burst: 10 },
    });
    expect(log.admitUser('alice')).toBe(0);
    const large = { ...entry('alice'), args: Array.from({ length: 4 }, () => 'x'.repeat(1000)) };
    const units = Math.ceil(Buffer.byteLength(JSON.stringify(boundedEntry(large))) / 1024);
    expect(units).toBe(5);
    log.enqueue(large);
    // 10, less the request, less 4 more for its entry: 5 left.
    const admitted = Array.from({ length: 7 }, () => log.admitUser('alice') === 0);
    expect(admitted).toEqual([true, true, true, true, true, false, false]);
    // A small entry takes nothing more, and another subject has its own.
    expect(log.admitUser('bob')).toBe(0);
    log.enqueue(entry('bob'));
    expect(Array.from({ length: 10 }, () => log.admitUser('bob') === 0)).toEqual([
      ...Array(9).fill(true),
      false,
    ]);
    await log.close(10);
  });

  it('stops within its bound, logging every entry it could not write, and leaves no retry behind', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const timersBefore = timers();
    // NATS gone: a put that never answers, and puts that fail and would be retried a minute later.
    const never = { put: () => new Promise(() => {}) } as unknown as KV;
    let attempts = 0;
    const failing = {
      put: async () => {
        attempts++;
        throw new Error('disconnected');
      },
    } as unknown as KV;
    const { logger, lines } = capturedLogger();
    const log = new AuditLog({
      buckets: { authenticated: never, unauthenticated: failing },
      logger,
      concurrency: 2,
      retryDelaysMs: [60_000],
      unauthenticatedLimit: { perMinute: 60, burst: 100 },
    });
    // One worker waits on the authenticated entry, the other on the first
    // unauthenticated one's retry; two more wait in the queue.
    const entries = [entry('alice'), entry(''), entry(''), entry('')];
    for (const e of entries) log.enqueue(e);
    expect(attempts).toBe(1);
    const started = performance.now();
    await log.close(200);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(log.backlog).toBe(0);
    const logged = lines.filter((l) => l.audit_entry).map((l) => l.audit_entry?.id);
    expect(logged.sort()).toEqual(entries.map((e) => e.id).sort());
    expect(log.failures).toBe(entries.length);
    // The minute-long retry delay was cut short: no timer holds the process open.
    expect(timers()).toBeLessThanOrEqual(timersBefore);
    expect(attempts).toBe(1);
    // An entry that comes after the stop is logged at once, never queued.
    const late = entry('alice');
    log.enqueue(late);
    expect(lines.at(-1)?.audit_entry?.id).toBe(late.id);
    expect(log.backlog).toBe(0);
  });
});
