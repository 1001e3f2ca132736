// Token buckets for audit entries: one per source address for requests without
// a valid token, one per token subject for requests with one. Anyone can make
// a request without a token, and any token holder can make many, so without a
// limit one client could write as fast as it can send and fill the audit log;
// with it, each source or subject gets a burst and then a steady rate. What is
// beyond is counted instead of stored (without a token) or refused before it
// runs (with one: api/audit/hook.ts).
import { isIPv6 } from 'node:net';

export interface RateLimit {
  /** Entries per minute per key; 0 admits none. */
  perMinute: number;
  /** Entries a key may have at once before the rate applies (>= 1). */
  burst: number;
}

/** Per source address, for requests without a valid token. */
export type SourceRateLimit = RateLimit;

/** Keys tracked at once; beyond, the least recently seen is forgotten (and starts full again). */
const MAX_KEYS = 10_000;

/**
 * The key a source is limited under: an IPv4 address as is (also when written
 * as IPv4-mapped IPv6), an IPv6 address by its /64, since one host or
 * customer is usually given a whole /64 and could otherwise change address
 * for every request. Anything else (no address) shares one key.
 */
export function sourceKey(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const bare = ip.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(bare)) return bare;
  const [head = '', tail = ''] = bare.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = bare.includes('::')
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** A token bucket per key (a source, a token subject), at most MAX_KEYS of them. */
export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  /** Insertion order is recency: a key seen again moves to the end. */
  readonly #keys = new Map<string, { tokens: number; at: number }>();

  constructor(limit: RateLimit, now: () => number = () => performance.now()) {
    this.#perMs = Math.max(0, limit.perMinute) / 60_000;
    this.#burst = Math.max(1, limit.burst);
    this.#now = now;
  }

  /** Takes one entry's worth from the key's bucket; false when it has none left. */
  take(key: string): boolean {
    return this.takeOrWait(key) === 0;
  }

  /**
   * Takes one entry's worth from the key's bucket: 0 when it did, else the
   * milliseconds until the bucket holds one again (Infinity at rate 0).
   */
  takeOrWait(key: string): number {
    if (this.#perMs === 0) return Number.POSITIVE_INFINITY;
    const now = this.#now();
    const tokens = this.#refill(key, now);
    const allowed = tokens >= 1;
    this.#keys.set(key, { tokens: allowed ? tokens - 1 : tokens, at: now });
    return allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.#perMs));
  }

  /**
   * Takes `n` more from the key's bucket, below empty if need be: what was
   * taken for one entry turned out to be worth more (a large one). The key
   * is then refused until its rate has paid for it.
   */
  charge(key: string, n: number): void {
    if (this.#perMs === 0 || n <= 0) return;
    const now = this.#now();
    this.#keys.set(key, { tokens: this.#refill(key, now) - n, at: now });
  }

  /** The key's tokens at `now`, its bucket taken out of the map (or room made for it). */
  #refill(key: string, now: number): number {
    const have = this.#keys.get(key);
    if (have) {
      this.#keys.delete(key);
      return Math.min(this.#burst, have.tokens + (now - have.at) * this.#perMs);
    }
    if (this.#keys.size >= MAX_KEYS) {
      const oldest = this.#keys.keys().next().value;
      if (oldest !== undefined) this.#keys.delete(oldest);
    }
    return this.#burst;
  }
}

/** Per source address, keyed by `sourceKey`. */
export class SourceRateLimiter {
  readonly #limiter: RateLimiter;

  constructor(limit: SourceRateLimit, now?: () => number) {
    this.#limiter = new RateLimiter(limit, now);
  }

  /** Takes one entry's worth from the source's bucket; false when it has none left. */
  take(ip: string | undefined): boolean {
    return this.#limiter.take(sourceKey(ip));
  }
}
