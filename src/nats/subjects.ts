// NATS's own subjects for the JetStream API and for KV keys, as nats-server
// and the nats.js clients (3.x) use them. Spelled here once, for the agent's
// permission lists and for the KV writes that bypass the KV client (results
// with headers, heartbeats and timeline events sent without confirmation).

/** The API prefix of JetStream requests in the default domain. */
export const JS_API = '$JS.API';

/** The stream behind a KV bucket. */
export function kvStream(bucket: string): string {
  return `KV_${bucket}`;
}

/** The subject a KV put, delete or purge of `key` is published on. */
export function kvSubject(bucket: string, key: string): string {
  return `$KV.${bucket}.${key}`;
}

/** The header the KV clients mark a delete or purge with (`DEL`, `PURGE`). */
export const KV_OPERATION_HEADER = 'KV-Operation';

/** Every key of a bucket (or, with a prefix, those under it). */
export function kvKeys(bucket: string, prefix?: string): string {
  return prefix ? `$KV.${bucket}.${prefix}.>` : `$KV.${bucket}.>`;
}

/**
 * The inbox prefix of the API server's connection. Replies to the API (job
 * results arriving on the pulls of the buckets it follows, above all) travel
 * on its inbox, so it must not share the `_INBOX.` prefix that agents may
 * subscribe to.
 */
export const API_INBOX_PREFIX = '_INBOX_API';
