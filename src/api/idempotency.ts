// `Idempotency-Key` on the routes that make jobs: the first request with a key
// reserves it for the job it is about to make (a KV create, which only one
// request can win); a later request with the same key from the same user
// within 24 h gets that job back instead of running anything again. The same
// key with a different request is refused, as Stripe and the IETF draft do.
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { SALT_LENGTH, sha512Crypt } from '../contract/password-hash.js';
import { canonicalJson } from '../job/signing.js';
import {
  createReservation,
  type JobStore,
  readReservation,
  releaseReservation,
  replaceReservation,
} from '../job/store.js';
import { idempotencyKey } from '../names/names.js';
import { ApiError } from './errors.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Set on an answer that replays the job an earlier request made. */
export const REPLAYED_HEADER = 'idempotent-replayed';
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Printable ASCII without spaces, as the draft standard and Stripe accept. */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export interface IdempotencyRequest {
  /** The KV key: a digest of the user and the client's key. */
  kvKey: string;
  /** A digest of what was asked (method, route, target, body, query). */
  requestDigest: string;
}

interface Reservation {
  job_id: string;
  request: string;
  created: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The request's key, validated, or null when it sent none. */
export function idempotencyOf(req: FastifyRequest, user: string): IdempotencyRequest | null {
  const raw = req.headers[IDEMPOTENCY_HEADER];
  if (raw === undefined) return null;
  const key = Array.isArray(raw) ? null : raw;
  if (key === null || !KEY_PATTERN.test(key)) {
    throw new ApiError(
      'invalid_request',
      'invalid header: Idempotency-Key must be 1 to 255 printable ASCII characters without spaces, sent once',
      {
        fields: [
          { field: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters' },
        ],
      },
    );
  }
  const kvKey = idempotencyKey(sha256(`${user}\0${key}`));
  return {
    kvKey,
    requestDigest: sha256(
      canonicalJson({
        method: req.method,
        route: req.routeOptions.url ?? req.url,
        params: req.params ?? null,
        query: req.query ?? null,
        body: withPasswordsHashed(req.body ?? null, kvKey),
      }),
    ),
  };
}

/**
 * The body with each `password` (user.create, user.password.set, as the
 * route or POST /job carries it) replaced by its SHA-512 crypt hash, salted
 * by the key: a plain digest of a body could be tried against guesses far
 * faster than /etc/shadow could, so the stored digest costs a guesser what
 * the hash on the host does. The same password under the same key gives the
 * same digest, so a retry is still told from a different request.
 */
function withPasswordsHashed(body: unknown, kvKey: string): unknown {
  if (Array.isArray(body)) return body.map((v) => withPasswordsHashed(v, kvKey));
  if (body === null || typeof body !== 'object') return body;
  return Object.fromEntries(
    Object.entries(body).map(([k, v]) => [
      k,
      k === 'password' && typeof v === 'string'
        ? sha512Crypt(v, saltOf(kvKey))
        : withPasswordsHashed(v, kvKey),
    ]),
  );
}

/** 16 crypt characters from the key: one salt per user and key. */
function saltOf(kvKey: string): string {
  return createHash('sha256')
    .update(`idempotency-salt\0${kvKey}`)
    .digest('base64')
    .replace(/[^A-Za-z0-9]/g, '.')
    .slice(0, SALT_LENGTH);
}

export type Reserved = { kind: 'new' } | { kind: 'replay'; jobId: string };

/**
 * Reserves the key for `jobId`, or says which job it already made. An entry
 * older than the window is replaced: the key is free again.
 */
export async function reserveIdempotencyKey(
  store: JobStore,
  idem: IdempotencyRequest,
  jobId: string,
): Promise<Reserved> {
  const now = store.clock.now();
  const value = JSON.stringify({
    job_id: jobId,
    request: idem.requestDigest,
    created: now.toISOString(),
  } satisfies Reservation);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await createReservation(store, idem.kvKey, value)) return { kind: 'new' };
    const held = await readReservation(store, idem.kvKey);
    if (!held) continue; // released meanwhile: try to create again
    const first = parseReservation(held.text);
    if (!first || now.getTime() - Date.parse(first.created) > IDEMPOTENCY_WINDOW_MS) {
      if (await replaceReservation(store, idem.kvKey, value, held.revision)) return { kind: 'new' };
      continue; // someone else took it first: read again
    }
    if (first.request !== idem.requestDigest) {
      throw new ApiError(
        'idempotency_key_reused',
        `this Idempotency-Key was used for a different request (job ${first.job_id}); use a new key for a new request`,
        { job_id: first.job_id },
      );
    }
    return { kind: 'replay', jobId: first.job_id };
  }
  throw new ApiError('internal', 'could not reserve the Idempotency-Key; try again');
}

/** Frees the key when the request made no job after all (refused before publishing). */
export async function releaseIdempotencyKey(
  store: JobStore,
  idem: IdempotencyRequest,
): Promise<void> {
  await releaseReservation(store, idem.kvKey);
}

function parseReservation(text: string): Reservation | null {
  try {
    const v = JSON.parse(text) as Partial<Reservation>;
    return typeof v.job_id === 'string' &&
      typeof v.request === 'string' &&
      typeof v.created === 'string'
      ? (v as Reservation)
      : null;
  } catch {
    return null;
  }
}
