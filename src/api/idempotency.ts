// `Idempotency-Key` on the routes that make jobs: the first request with a key
// reserves it for the job it is about to make (a KV create, which only one
// request can win); a later request with the same key from the same user
// within 24 h gets that job back instead of running anything again. The same
// key with a different request is refused, as Stripe and the IETF draft do.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { canonicalJson, type JobSigner } from '../job/signing.js';
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

/**
 * Where a request's body holds secrets (operations.ts secretFields): the
 * operation's input is at `at` (`[]` on the operation's route,
 * `['operation', 'data']` for POST /job), and `fields` of it are secrets.
 */
export interface SecretsInBody {
  at: readonly string[];
  fields: readonly string[];
}

/** The request's key, validated, or null when it sent none. */
export function idempotencyOf(
  req: FastifyRequest,
  user: string,
  /** Null: the body holds no secret (a retry, whose data is the stored job's). */
  secrets: SecretsInBody | null,
  /** The key of the secrets' digests (secretDigestKey), asked only when the request has a key. */
  digestKey: () => Uint8Array,
): IdempotencyRequest | null {
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
  const body = req.body ?? null;
  return {
    kvKey,
    requestDigest: sha256(
      canonicalJson({
        method: req.method,
        route: req.routeOptions.url ?? req.url,
        params: req.params ?? null,
        query: req.query ?? null,
        body: secrets ? withSecretsDigested(body, secrets, digestKey(), kvKey) : body,
      }),
    ),
  };
}

/**
 * The body with each secret the operation declares (user.create's and
 * user.password.set's `password`) replaced by its HMAC-SHA-256 under the
 * API's digest key and the reservation's key. The reservation is kept in
 * the jobs bucket, which agents read: a plain digest of the body could be
 * tried against guesses there, a keyed one cannot be without the API's
 * key. The same password under the same Idempotency-Key gives the same
 * digest, so a retry is still told from a different request. Only the
 * declared fields are touched (a template variable named `password` is
 * data like any other), and the digest's work grows with the length only.
 */
export function withSecretsDigested(
  body: unknown,
  secrets: SecretsInBody,
  digestKey: Uint8Array,
  kvKey: string,
): unknown {
  const [step, ...rest] = secrets.at;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const object = body as Record<string, unknown>;
  if (step !== undefined) {
    if (!(step in object)) return body;
    const inner = withSecretsDigested(object[step], { ...secrets, at: rest }, digestKey, kvKey);
    return { ...object, [step]: inner };
  }
  const out = { ...object };
  for (const field of secrets.fields) {
    const value = out[field];
    if (typeof value !== 'string') continue;
    const mac = createHmac('sha256', digestKey).update(`${kvKey}\0${value}`).digest('hex');
    out[field] = `hmac-sha256:${mac}`;
  }
  return out;
}

/** Drawn once: the digest key of a process whose jobs are not signed (some tests). */
let processDigestKey: Buffer | undefined;

/**
 * The key secrets are digested with: derived from the job-signing key, so
 * a retry after the API restarted (or sent to another API server with the
 * same key) is still told a retry; without a signer, one drawn per process.
 */
export function secretDigestKey(signer: JobSigner | undefined): Uint8Array {
  if (signer) return signer.derivedSecret('idempotency secret digest');
  processDigestKey ??= randomBytes(32);
  return processDigestKey;
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
