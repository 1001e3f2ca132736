// A token bucket per source address for the audit entries of requests without
// a valid token. Anyone can make such a request, so without a limit one client
// could write as fast as it can send and push everyone else's entries out; with
// it, each source gets a burst and then a steady rate, and what is beyond that
// is counted instead of stored.
import { isIPv6 } from 'node:net';

export interface SourceRateLimit {
  /** Entries per minute per source; 0 admits none. */
  perMinute: number;
  /** Entries a source may have at once before the rate applies (>= 1). */
  burst: number;
}

/** Sources tracked at once; beyond, the least recently seen is forgotten (and starts full again). */
const MAX_SOURCES = 10_000;

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

export class SourceRateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  /** Insertion order is recency: a source seen again moves to the end. */
  readonly #sources = new Map<string, { tokens: number; at: number }>();

  constructor(limit: SourceRateLimit, now: () => number = () => performance.now()) {
    this.#perMs = Math.max(0, limit.perMinute) / 60_000;
    this.#burst = Math.max(1, limit.burst);
    this.#now = now;
  }

  /** Takes one entry's worth from the source's bucket; false when it has none left. */
  take(ip: string | undefined): boolean {
    if (this.#perMs === 0) return false;
    const key = sourceKey(ip);
    const now = this.#now();
    const have = this.#sources.get(key);
    let tokens = this.#burst;
    if (have) {
      tokens = Math.min(this.#burst, have.tokens + (now - have.at) * this.#perMs);
      this.#sources.delete(key);
    } else if (this.#sources.size >= MAX_SOURCES) {
      const oldest = this.#sources.keys().next().value;
      if (oldest !== undefined) this.#sources.delete(oldest);
    }
    const allowed = tokens >= 1;
    this.#sources.set(key, { tokens: allowed ? tokens - 1 : tokens, at: now });
    return allowed;
  }
}
