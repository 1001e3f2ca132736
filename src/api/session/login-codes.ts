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
  /** Outstanding codes kept at most; the oldest goes first. */
  max: number;
  now: () => number;
}

function digest(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

export class LoginCodes {
  private readonly codes = new Map<string, { grant: LoginGrant; expiresAtMs: number }>();

  constructor(private readonly opts: LoginCodesOptions) {}

  /** A new code for `grant`: 256 random bits, base64url. */
  issue(grant: LoginGrant): { code: string; expiresAtMs: number } {
    this.prune();
    while (this.codes.size >= this.opts.max) {
      const oldest = this.codes.keys().next().value;
      if (oldest === undefined) break;
      this.codes.delete(oldest);
    }
    const code = randomBytes(32).toString('base64url');
    const expiresAtMs = this.opts.now() + this.opts.ttlMs;
    this.codes.set(digest(code), { grant, expiresAtMs });
    return { code, expiresAtMs };
  }

  /** The grant of a live, unused code; null otherwise. A code works once. */
  redeem(code: string): LoginGrant | null {
    const key = digest(code);
    const entry = this.codes.get(key);
    this.codes.delete(key);
    if (!entry || entry.expiresAtMs <= this.opts.now()) return null;
    return entry.grant;
  }

  /** Outstanding codes (for tests and metrics). */
  get size(): number {
    this.prune();
    return this.codes.size;
  }

  private prune(): void {
    const now = this.opts.now();
    for (const [key, entry] of this.codes) {
      if (entry.expiresAtMs <= now) this.codes.delete(key);
    }
  }
}
