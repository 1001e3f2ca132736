// One-time login codes for the web console. `osapi ui` asks for one with the
// local user's token and prints a link carrying it; the console trades it,
// once, for a short-lived session token. So the link never holds a token, a
// copied or logged link is useless after its first use or after a minute or
// two, and the long-lived token on disk never reaches a browser.
//
// Codes live in a KV bucket every API server on the same NATS shares
// (names.ts loginCodesBucket), so a link made by one works on any other.
// The bucket holds what a code grants (subject, roles, permissions claim and
// when the session must end), never a token: the session token is made when
// the code is traded. Each entry's key is the user's tag and the code's
// digest, so the code itself is never stored, and a user's codes are counted
// by key. The code begins with the user's tag (an HMAC of the subject, which
// says nothing of it without the signing key), so trading it finds the entry
// without a search; a trade deletes the entry only if it is still the
// revision read, so of two trades of one code at once only one succeeds.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { type Static, Type } from 'typebox';
import { recordParser } from '../../job/records.js';
import { isWrongLastSequence } from '../../nats/errors.js';

/** What a code grants: a session of this user, ending at `session_expires_at` at the latest. */
export const LoginGrant = Type.Object({
  subject: Type.String({ minLength: 1 }),
  roles: Type.Array(Type.String()),
  /** The asking token's own permissions claim, when it had one. */
  permissions: Type.Optional(Type.Array(Type.String())),
  /** Milliseconds since the epoch: the session ends then, or earlier. */
  session_expires_at: Type.Integer(),
  /** Milliseconds since the epoch: the code works until then. */
  expires_at: Type.Integer(),
});
export type LoginGrant = Static<typeof LoginGrant>;
const parseGrant = recordParser(LoginGrant, 'login code entry');

export interface LoginCodesOptions {
  /** The shared bucket (names.ts loginCodesBucket). */
  bucket: KV;
  /** Keys the user tag, so it says nothing of the subject to whoever lacks it. */
  secret: string;
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

/** 16 bytes of HMAC, hex: the first 32 characters of every code of one user. */
const TAG_CHARS = 32;
/** A user tag, then 32 random bytes in base64url. */
const CODE = /^[0-9a-f]{32}[A-Za-z0-9_-]{43}$/;

function digest(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

export class LoginCodes {
  constructor(private readonly opts: LoginCodesOptions) {}

  private tag(subject: string): string {
    return createHmac('sha256', this.opts.secret).update(subject).digest('hex').slice(0, TAG_CHARS);
  }

  /**
   * A new code for `grant` (its `expires_at` is set here), unless a limit is
   * reached. The limits are counted across API servers; two servers issuing
   * at the same instant may each let one more through.
   */
  async issue(grant: Omit<LoginGrant, 'expires_at'>): Promise<IssueResult> {
    const now = this.opts.now();
    const tag = this.tag(grant.subject);
    const mine = await this.keys(`${tag}.*`);
    if (mine.length >= this.opts.maxPerUser) {
      return {
        ok: false,
        limit: 'user',
        outstanding: mine.length,
        retryAfterMs: await this.firstExpiry(mine, now),
      };
    }
    const all = await this.keys('>');
    if (all.length >= this.opts.max) {
      // The oldest is not looked for among them all: at most a code's lifetime.
      return { ok: false, limit: 'total', outstanding: all.length, retryAfterMs: this.opts.ttlMs };
    }
    const code = tag + randomBytes(32).toString('base64url');
    const expiresAtMs = now + this.opts.ttlMs;
    const entry: LoginGrant = { ...grant, expires_at: expiresAtMs };
    await this.opts.bucket.create(`${tag}.${digest(code)}`, JSON.stringify(entry));
    return { ok: true, code, expiresAtMs };
  }

  /** The grant of a live, unused code; null otherwise. A code works once. */
  async redeem(code: string): Promise<LoginGrant | null> {
    if (!CODE.test(code)) return null;
    const key = `${code.slice(0, TAG_CHARS)}.${digest(code)}`;
    const entry = await this.opts.bucket.get(key);
    if (entry?.operation !== 'PUT') return null;
    try {
      // Purged, not only deleted: what it granted leaves the bucket with it.
      await this.opts.bucket.purge(key, { previousSeq: entry.revision });
    } catch (err) {
      if (isWrongLastSequence(err)) return null;
      throw err;
    }
    const grant = parseGrant(entry.value);
    return grant.expires_at > this.opts.now() ? grant : null;
  }

  /** Outstanding codes of one subject (for tests). */
  async countOf(subject: string): Promise<number> {
    return (await this.keys(`${this.tag(subject)}.*`)).length;
  }

  /** Outstanding codes (for tests). */
  async size(): Promise<number> {
    return (await this.keys('>')).length;
  }

  private async keys(filter: string): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.opts.bucket.keys(filter)) out.push(k);
    return out;
  }

  /** When the first of these codes expires and frees a place. */
  private async firstExpiry(keys: string[], now: number): Promise<number> {
    let first = now + this.opts.ttlMs;
    for (const k of keys) {
      const e = await this.opts.bucket.get(k);
      if (e?.operation !== 'PUT') return 0;
      try {
        first = Math.min(first, parseGrant(e.value).expires_at);
      } catch {
        // An entry that does not parse is not one of ours to wait for.
      }
    }
    return Math.max(0, first - now);
  }
}
