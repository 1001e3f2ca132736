// The audit log writer: entries go to NATS off the request's hot path, through
// a bounded queue, written by a few workers at once with a bounded number of
// retries each, so a slow or absent NATS delays entries but never lets them
// pile up without end. An entry that cannot be written goes to the log (the
// whole entry: it holds no secret) and is counted; nothing is lost in silence.
//
// Two kinds of entry, kept apart so that one cannot crowd out the other:
// authenticated ones (the request carried a valid token) in the audit bucket,
// and unauthenticated ones, which anyone can make, in a bucket of their own
// that drops its oldest entries when full (nats/layout.ts). Unauthenticated
// entries are also rate-limited per source address and have a smaller share
// of the queue; what is beyond either is counted, not stored. Authenticated
// entries are rate-limited per token subject, when the request comes in: one
// beyond the rate is refused before it runs (hook.ts), and counted. They are
// always written first. Every entry is bounded in size (fields.ts) before it
// is queued or written.
//
// `writeNow` serves the `audit.required` mode, where a request waits for its
// entry. `close` ends the writer within a bound, logging what is left.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KV } from '@nats-io/kv';
import type { AuditEntry } from '../../contract/audit.js';
import type { Logger } from '../../log/logger.js';
import { AUDIT_FILTER, auditIdFromKey, auditKey } from '../../names/names.js';
import { waitAtMost } from '../../wait-at-most.js';
import { boundedEntry } from './fields.js';
import {
  type RateLimit,
  RateLimiter,
  type SourceRateLimit,
  SourceRateLimiter,
} from './rate-limit.js';

export type AuditKind = 'authenticated' | 'unauthenticated';

/**
 * Why an entry was counted rather than stored: a request without a valid
 * token beyond its source's rate or the queue's room, or a request with one
 * beyond its subject's rate (refused 429 before it ran).
 */
export type AuditDropReason = 'rate_limited' | 'queue_full' | 'user_rate_limited';

/** Per token subject, for requests with a valid token, when none is configured. */
export const DEFAULT_USER_LIMIT: RateLimit = { perMinute: 600, burst: 300 };

/**
 * An authenticated entry counts once against its subject's rate when its
 * request comes in, and once more for each further KiB (begun) it takes when
 * it is queued: the rate bounds the bytes a subject writes, not only its
 * entries (one of bounded size still takes up to about 12 KiB).
 */
export const USER_RATE_UNIT_BYTES = 1024;

/** The two audit buckets (names.auditBucket, names.unauthenticatedAuditBucket). */
export interface AuditBuckets {
  authenticated: KV;
  unauthenticated: KV;
}

/** An entry without a user was made by a request without a valid token (a token's subject is never empty). */
export function auditKind(entry: AuditEntry): AuditKind {
  return entry.user === '' ? 'unauthenticated' : 'authenticated';
}

export interface AuditLogOptions {
  buckets: AuditBuckets;
  logger: Logger;
  /** Called once per entry given up on: after every retry, for want of room, or at stop. */
  onWriteFailure?: () => void;
  /** Called once per entry counted instead of stored. */
  onDropped?: (reason: AuditDropReason) => void;
  /** Delays before each retry; default 100 ms, 500 ms, 2 s (so at most 4 attempts). */
  retryDelaysMs?: number[];
  /** Entries written at once; default 8. */
  concurrency?: number;
  /** Authenticated entries waiting beyond this are refused, logged and counted; default 10,000. */
  maxQueued?: number;
  /** Unauthenticated entries waiting beyond this are dropped and counted; default 1,000. */
  maxQueuedUnauthenticated?: number;
  /** Per source address, for unauthenticated entries; default 60 a minute, 20 at once. */
  unauthenticatedLimit?: SourceRateLimit;
  /** Per token subject, for requests with a valid token; default DEFAULT_USER_LIMIT. */
  userLimit?: RateLimit;
  /** At most one summary of dropped entries is logged per this many ms; default 60 s. */
  dropReportEveryMs?: number;
}

interface Pending {
  entry: AuditEntry;
  /** The bounded entry as stored, made once: it prices the entry and is what is written. */
  text: string;
  kind: AuditKind;
  /** Written, or given up on: either way, never handled again. */
  settled: boolean;
}

export class AuditLog {
  readonly #buckets: AuditBuckets;
  readonly #log: Logger;
  readonly #onFailure: () => void;
  readonly #onDropped: (reason: AuditDropReason) => void;
  readonly #delays: number[];
  readonly #concurrency: number;
  readonly #max: number;
  readonly #maxUnauthenticated: number;
  readonly #limiter: SourceRateLimiter;
  readonly #userLimiter: RateLimiter;
  /** The per-subject limit in force, for the refusal's message. */
  readonly userLimit: RateLimit;
  readonly #reportEveryMs: number;
  readonly #queue: Pending[] = [];
  readonly #unauthenticated: Pending[] = [];
  readonly #inFlight = new Set<Pending>();
  /** Wakes retry delays at stop, so no timer outlives the writer. */
  readonly #stopping = new AbortController();
  #workers = 0;
  #idle: Array<() => void> = [];
  #closed = false;
  #failures = 0;
  #dropped: Record<AuditDropReason, number> = {
    rate_limited: 0,
    queue_full: 0,
    user_rate_limited: 0,
  };
  #lastDropReport = Number.NEGATIVE_INFINITY;

  constructor(opts: AuditLogOptions) {
    this.#buckets = opts.buckets;
    this.#log = opts.logger.child({ component: 'audit' });
    this.#onFailure = opts.onWriteFailure ?? (() => {});
    this.#onDropped = opts.onDropped ?? (() => {});
    this.#delays = opts.retryDelaysMs ?? [100, 500, 2000];
    this.#concurrency = Math.max(1, opts.concurrency ?? 8);
    this.#max = opts.maxQueued ?? 10_000;
    this.#maxUnauthenticated = opts.maxQueuedUnauthenticated ?? 1_000;
    this.#limiter = new SourceRateLimiter(
      opts.unauthenticatedLimit ?? { perMinute: 60, burst: 20 },
    );
    this.userLimit = opts.userLimit ?? DEFAULT_USER_LIMIT;
    this.#userLimiter = new RateLimiter(this.userLimit);
    this.#reportEveryMs = opts.dropReportEveryMs ?? 60_000;
  }

  /** Entries given up on since start. */
  get failures(): number {
    return this.#failures;
  }

  /** Entries waiting or being written. */
  get backlog(): number {
    return this.#queue.length + this.#unauthenticated.length + this.#inFlight.size;
  }

  /**
   * Takes one unauthenticated entry's worth of the source's rate; false (and
   * counted) when the source has used it up. `enqueue` asks it itself; the
   * `audit.required` mode asks before it writes an entry of a request
   * without a token.
   */
  admitUnauthenticated(sourceIp: string): boolean {
    if (this.#limiter.take(sourceIp)) return true;
    this.#drop('rate_limited');
    return false;
  }

  /**
   * Takes one request's worth of a token subject's rate: 0 when it is
   * admitted, else the milliseconds until it would be (and the request is
   * counted). Asked once per request with a valid token, before it runs
   * (hook.ts `admitAuthenticated`); `enqueue` does not ask again, but takes
   * what a large entry is worth beyond that (USER_RATE_UNIT_BYTES).
   */
  admitUser(subject: string): number {
    const waitMs = this.#userLimiter.takeOrWait(subject);
    if (waitMs > 0) this.#drop('user_rate_limited');
    return waitMs;
  }

  /** Queues an entry, bounded in size; returns at once. */
  enqueue(whole: AuditEntry): void {
    const entry = boundedEntry(whole);
    const text = JSON.stringify(entry);
    const item: Pending = { entry, text, kind: auditKind(entry), settled: false };
    if (item.kind === 'authenticated') {
      const units = Math.ceil(Buffer.byteLength(text) / USER_RATE_UNIT_BYTES);
      this.#userLimiter.charge(whole.user, units - 1);
    }
    if (this.#closed) {
      this.#giveUp(item, new Error('the audit writer has stopped'));
      return;
    }
    if (item.kind === 'unauthenticated') {
      if (!this.admitUnauthenticated(entry.source_ip)) return;
      if (this.#unauthenticated.length >= this.#maxUnauthenticated) {
        this.#drop('queue_full');
        return;
      }
      this.#unauthenticated.push(item);
    } else {
      if (this.#queue.length >= this.#max) {
        this.#giveUp(item, new Error(`audit queue full (${this.#max} entries waiting)`));
        return;
      }
      this.#queue.push(item);
    }
    this.#startWorkers();
  }

  /** Writes one entry now, once, bounded in size, to the bucket of its kind; throws when it cannot. */
  async writeNow(entry: AuditEntry): Promise<void> {
    const bounded = boundedEntry(entry);
    await this.#put(bounded, auditKind(bounded), JSON.stringify(bounded));
  }

  #put(entry: AuditEntry, kind: AuditKind, text: string): Promise<unknown> {
    const bucket =
      kind === 'authenticated' ? this.#buckets.authenticated : this.#buckets.unauthenticated;
    return bucket.put(auditKey(entry.id), text);
  }

  /** Waits for the queue to empty, at most `withinMs`; true when it did. */
  async flush(withinMs = 3000): Promise<boolean> {
    return waitAtMost(this.#whenIdle(), withinMs);
  }

  /**
   * Stops the writer: waits at most `withinMs` for what is queued to be
   * written, then logs and counts every entry still waiting or being written
   * (an entry in flight may yet reach NATS as well), and leaves no timer
   * behind. Entries queued after this are logged at once.
   */
  async close(withinMs = 3000): Promise<void> {
    if (this.#closed) return;
    await this.flush(withinMs);
    this.#closed = true;
    this.#stopping.abort();
    const left = [...this.#inFlight, ...this.#queue.splice(0), ...this.#unauthenticated.splice(0)];
    // A put still waiting on NATS is let go: its entry is logged below.
    this.#inFlight.clear();
    for (const item of left) {
      this.#giveUp(
        item,
        new Error(`the API server stopped before it could be written (waited ${withinMs} ms)`),
      );
    }
    this.#reportDrops(true);
    this.#settleIdle();
  }

  #whenIdle(): Promise<void> {
    if (this.backlog === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #settleIdle(): void {
    if (this.backlog > 0 && !this.#closed) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }

  /** Up to `concurrency` workers; each takes an entry at once, so none starts idle. */
  #startWorkers(): void {
    while (
      !this.#closed &&
      this.#workers < this.#concurrency &&
      this.#queue.length + this.#unauthenticated.length > 0
    ) {
      this.#workers++;
      void this.#work().finally(() => {
        this.#workers--;
        this.#settleIdle();
      });
    }
  }

  /** Authenticated entries first: a flood of the other kind never delays them. */
  #next(): Pending | undefined {
    return this.#queue.shift() ?? this.#unauthenticated.shift();
  }

  async #work(): Promise<void> {
    // Closed: close() has taken what is left in the queues.
    while (!this.#closed) {
      const item = this.#next();
      if (!item) return;
      this.#inFlight.add(item);
      try {
        await this.#writeWithRetries(item);
      } finally {
        this.#inFlight.delete(item);
      }
    }
  }

  async #writeWithRetries(item: Pending): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#put(item.entry, item.kind, item.text);
        item.settled = true;
        return;
      } catch (err) {
        // Stopped meanwhile: close() has logged it already.
        if (item.settled) return;
        const delay = this.#delays[attempt];
        if (delay === undefined || this.#closed) {
          this.#giveUp(item, err);
          return;
        }
        this.#log.warn(
          { audit_id: item.entry.id, attempt: attempt + 1, err: String(err) },
          'audit write failed; retrying',
        );
        try {
          await sleep(delay, undefined, { signal: this.#stopping.signal });
        } catch {
          // Woken by close(), which has logged the entry.
          return;
        }
      }
    }
  }

  #giveUp(item: Pending, err: unknown): void {
    if (item.settled) return;
    item.settled = true;
    this.#failures++;
    this.#onFailure();
    // The entry itself goes to the log, so the record survives somewhere. It
    // holds no secret: no token, no query string, no env value, no stdin.
    this.#log.error(
      { audit_entry: item.entry, audit_kind: item.kind, err: String(err) },
      'audit entry could not be written to NATS; it is in this log line only. Check the NATS server and the audit buckets.',
    );
  }

  #drop(reason: AuditDropReason): void {
    this.#dropped[reason]++;
    this.#onDropped(reason);
    this.#reportDrops(false);
  }

  /**
   * One log line now and then says how many entries were counted instead of
   * stored: one line per entry would hand the flood to the log instead.
   */
  #reportDrops(final: boolean): void {
    const { rate_limited, queue_full, user_rate_limited } = this.#dropped;
    if (rate_limited + queue_full + user_rate_limited === 0) return;
    const now = performance.now();
    if (!final && now - this.#lastDropReport < this.#reportEveryMs) return;
    this.#lastDropReport = now;
    this.#dropped = { rate_limited: 0, queue_full: 0, user_rate_limited: 0 };
    this.#log.warn(
      { dropped: { rate_limited, queue_full, user_rate_limited } },
      'audit entries were counted (osapi_audit_dropped_total), not stored: requests without a valid token beyond api.server.security.audit.unauthenticated_rate per source or the queue (rate_limited, queue_full), or requests with a token beyond api.server.security.audit.user_rate per subject, refused with 429 before they ran (user_rate_limited)',
    );
  }
}

/** Where an entry was found: an id may be in either bucket. */
export interface AuditIdRef {
  id: string;
  kind: AuditKind;
}

async function idsOf(kv: KV, kind: AuditKind, into: AuditIdRef[]): Promise<void> {
  for await (const k of await kv.keys(AUDIT_FILTER)) {
    const id = auditIdFromKey(k);
    if (id) into.push({ id, kind });
  }
}

/**
 * Audit entries of both kinds, newest first: keys are time-ordered ids, so no
 * entry is read to sort. An id in both buckets (a request whose pre-write in
 * `audit.required` mode came before its token was known) is listed once, from
 * the authenticated bucket.
 */
export async function auditIds(buckets: AuditBuckets): Promise<AuditIdRef[]> {
  const refs: AuditIdRef[] = [];
  await Promise.all([
    idsOf(buckets.authenticated, 'authenticated', refs),
    idsOf(buckets.unauthenticated, 'unauthenticated', refs),
  ]);
  refs.sort((a, b) =>
    a.id === b.id
      ? a.kind === b.kind
        ? 0
        : a.kind === 'authenticated'
          ? -1
          : 1
      : a.id < b.id
        ? 1
        : -1,
  );
  return refs.filter((r, i) => i === 0 || refs[i - 1]?.id !== r.id);
}

/** One entry, from the bucket `kind` names, or either (authenticated first) when it is not known. */
export async function readAuditEntry(
  buckets: AuditBuckets,
  id: string,
  kind?: AuditKind,
): Promise<AuditEntry | null> {
  for (const k of kind ? [kind] : (['authenticated', 'unauthenticated'] as const)) {
    const e = await buckets[k].get(auditKey(id));
    if (e?.operation === 'PUT') return e.json() as AuditEntry;
  }
  return null;
}
