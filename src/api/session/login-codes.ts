// One-time login codes for the web console. `osapi ui` asks for one with the
// local user's token and prints a link carrying it; the console trades it,
// once, for a short-lived session token. So the link never holds a token, a
// copied or logged link is useless after its first use or after a minute or
// two, and the long-lived token on disk never reaches a browser.
//
// Codes live in this API process's memory: a link works against the server
// that made it, and a restart forgets every outstanding code (run `osapi ui`
// again). Only a digest of each code is kept.
import { createHash, randomBytes } from 'node:crypto';
import type { AuthUser } from '../auth.js';

/** What a redeemed code gives: the session token made with the code, and whose it is. */
export interface LoginGrant {
  token: string;
  /** The session token's user (its `expiresAt` is the session token's). */
  user: AuthUser;
}

export interface LoginCodesOptions {
  /** How long a code may wait to be used. */
  ttlMs: number;
  /**
   * Outstanding codes kept at most, every user's together. Past it a new code
   * is refused: dropping the oldest would let one token, asking again and
   * again, void every other user's link.
   */
  max: number;
  /** Outstanding codes one token subject may have at once. */
  maxPerUser: number;
  now: () => number;
}

/** A code made, or why none was: too many of this user's, or of everyone's, wait to be used. */
export type IssueResult =
  | { ok: true; code: string; expiresAtMs: number }
  | { ok: false; limit: 'user' | 'total'; outstanding: number; retryAfterMs: number };

function digest(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

export class LoginCodes {
  // In the order made, so the first of a user's is its oldest.
  private readonly codes = new Map<string, { grant: LoginGrant; expiresAtMs: number }>();
  /** Outstanding codes per subject. A Map: a subject is any string a token holds. */
  private readonly perUser = new Map<string, number>();

  constructor(private readonly opts: LoginCodesOptions) {}

  /** A new code for `grant` (256 random bits, base64url), unless a limit is reached. */
  issue(grant: LoginGrant): IssueResult {
    this.prune();
    const now = this.opts.now();
    const subject = grant.user.subject;
    const mine = this.perUser.get(subject) ?? 0;
    if (mine >= this.opts.maxPerUser) {
      return { ok: false, limit: 'user', outstanding: mine, ...this.firstExpiry(now, subject) };
    }
    if (this.codes.size >= this.opts.max) {
      return { ok: false, limit: 'total', outstanding: this.codes.size, ...this.firstExpiry(now) };
    }
    const code = randomBytes(32).toString('base64url');
    const expiresAtMs = now + this.opts.ttlMs;
    this.codes.set(digest(code), { grant, expiresAtMs });
    this.perUser.set(subject, mine + 1);
    return { ok: true, code, expiresAtMs };
  }

  /** The grant of a live, unused code; null otherwise. A code works once. */
  redeem(code: string): LoginGrant | null {
    const key = digest(code);
    const entry = this.codes.get(key);
    this.remove(key);
    if (!entry || entry.expiresAtMs <= this.opts.now()) return null;
    return entry.grant;
  }

  /** Outstanding codes of one subject (for tests). */
  countOf(subject: string): number {
    this.prune();
    return this.perUser.get(subject) ?? 0;
  }

  /** Outstanding codes (for tests and metrics). */
  get size(): number {
    this.prune();
    return this.codes.size;
  }

  private remove(key: string): void {
    const entry = this.codes.get(key);
    if (!entry) return;
    this.codes.delete(key);
    const subject = entry.grant.user.subject;
    const left = (this.perUser.get(subject) ?? 1) - 1;
    if (left > 0) this.perUser.set(subject, left);
    else this.perUser.delete(subject);
  }

  /** When the first code (of `subject`, or of anyone) expires and frees a place. */
  private firstExpiry(now: number, subject?: string): { retryAfterMs: number } {
    for (const entry of this.codes.values()) {
      if (subject === undefined || entry.grant.user.subject === subject) {
        return { retryAfterMs: Math.max(0, entry.expiresAtMs - now) };
      }
    }
    return { retryAfterMs: 0 };
  }

  private prune(): void {
    const now = this.opts.now();
    for (const [key, entry] of this.codes) {
      if (entry.expiresAtMs <= now) this.remove(key);
    }
  }
}
