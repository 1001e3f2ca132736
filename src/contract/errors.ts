// The wire part of the API's error catalogue: every error a client can see, with its stable
// machine name (`reason`) and HTTP status, and the one body shape they share:
// `{error, code, reason, details?, fields?, ...facts}` where `code` is the HTTP
// status, `details` a string summing up the structured part, `fields` the
// per-field problems of a refused request and each fact (`job_id`, `missing`,
// `missing_permission`, ...) a key of its own. Like all of src/contract it
// imports only the schema library, so the SDK and the console use it without
// the server's. The ApiError class that throws these stays in src/api/errors.ts.
import { type Static, Type } from 'typebox';

export const API_ERRORS = {
  invalid_request: 400,
  invalid_target: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  no_matching_agent: 404,
  /** Cancel of a job whose every host already ended. */
  job_finished: 409,
  /** The same Idempotency-Key with another request. */
  idempotency_key_reused: 422,
  /** Drain of an agent already drained, or undrain of one that is not. */
  agent_state_conflict: 409,
  /** An upload under a name the file store holds with other content, without ?force=true. */
  object_exists: 409,
  /** The same Idempotency-Key while the first request has not made its job yet. */
  idempotency_key_in_progress: 409,
  /** One token subject already holds api.server.limits.max_streams_per_user job streams. */
  too_many_streams: 429,
  /** One token subject already has the most outstanding console login codes. */
  too_many_login_codes: 429,
  /** One token subject sent more requests than api.server.security.audit.user_rate records; nothing ran. */
  too_many_requests: 429,
  unsupported_media_type: 415,
  payload_too_large: 413,
  uri_too_long: 414,
  /** Refused by Node's HTTP parser: the request line and headers exceed its 16 KiB. */
  headers_too_large: 431,
  /** Refused by Node's HTTP server: the request did not arrive in time. */
  request_timeout: 408,
  no_agent_answered: 500,
  internal: 500,
  not_ready: 503,
  degraded: 503,
  audit_unavailable: 503,
  nats_unavailable: 503,
} as const;

export type ErrorReason = keyof typeof API_ERRORS;

/** One field of a refused request and what is wrong with it. */
export const FieldProblem = Type.Object({ field: Type.String(), message: Type.String() });
export type FieldProblem = Static<typeof FieldProblem>;

/** What an error may carry beside its message: each is a top-level key of its body. */
const ErrorFactFields = {
  fields: Type.Optional(
    Type.Array(FieldProblem, {
      description: 'invalid_request: each field and what is wrong with it.',
    }),
  ),
  job_id: Type.Optional(
    Type.String({
      description:
        'The job the error is about (no_agent_answered, idempotency_key_reused, job_finished).',
    }),
  ),
  missing: Type.Optional(
    Type.Array(Type.String(), { description: 'no_agent_answered: the hosts that never answered.' }),
  ),
  missing_permission: Type.Optional(
    Type.String({ description: 'forbidden: the permission the token lacks.' }),
  ),
  command_policy: Type.Optional(
    Type.Unknown({ description: "forbidden by a command policy: the roles' merged policy." }),
  ),
  target: Type.Optional(Type.String({ description: 'no_matching_agent: the target as written.' })),
  agents_ready: Type.Optional(Type.Integer()),
  agents_registered: Type.Optional(Type.Integer()),
  limit: Type.Optional(
    Type.String({ description: '429: the limit reached (a config key, or `user`/`server`).' }),
  ),
  per_minute: Type.Optional(Type.Integer()),
  burst: Type.Optional(Type.Integer()),
  retry_after_s: Type.Optional(
    Type.Integer({ description: '429 and 503 nats_unavailable: seconds to wait.' }),
  ),
  max_streams_per_user: Type.Optional(Type.Integer()),
};

export const ErrorFacts = Type.Object(ErrorFactFields);
export type ErrorFacts = Static<typeof ErrorFacts>;

/** The one error body, as the OpenAPI document shows it (errors are built, not validated). */
export const ErrorBody = Type.Object(
  {
    error: Type.String({ description: 'What went wrong and what to do.' }),
    code: Type.Integer({ description: 'The HTTP status.' }),
    reason: Type.Enum(Object.keys(API_ERRORS) as ErrorReason[], {
      description: 'Stable machine name.',
    }),
    details: Type.Optional(
      Type.String({ description: 'A human-readable summary of the structured keys below.' }),
    ),
    ...ErrorFactFields,
  },
  { description: 'Error' },
);
export type ErrorBody = Static<typeof ErrorBody>;

function describeFact(value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => describeFact(v)).join(', ');
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** `details`: one line for the fields and facts, e.g. `job_id: …; missing: web-01, web-02`. */
export function describeFacts(facts: ErrorFacts): string | undefined {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(facts)) {
    if (value === undefined) continue;
    if (key === 'fields') {
      for (const f of value as FieldProblem[]) parts.push(`${f.field}: ${f.message}`);
    } else {
      parts.push(`${key}: ${describeFact(value)}`);
    }
  }
  return parts.length > 0 ? parts.join('; ') : undefined;
}
