// The audit writer's bounds, without NATS: what a path becomes, the rate per
// source address, how many writes run at once, how many times one is tried,
// which kind goes first, and what a stop does with what is left.
import { Writable } from 'node:stream';
import type { KV } from '@nats-io/kv';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type AuditDropReason, AuditLog } from '../../src/api/audit/log.js';
import { AUDIT_PATH_MAX_BYTES, recordedPath } from '../../src/api/audit/path.js';
import { SourceRateLimiter, sourceKey } from '../../src/api/audit/rate-limit.js';
import type { AuditEntry } from '../../src/api/audit/schemas.js';
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
