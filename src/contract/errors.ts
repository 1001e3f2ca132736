// The wire part of the API's error catalogue: every error a client can see, with its stable
// machine name (`reason`) and HTTP status, and the one body shape they share:
// `{error, code, reason, details?, fields?, ...facts}` where `code` is the HTTP
// status, `details` a string summing up the structured part, `fields` the
// per-field problems of a refused request and each fact (`job_id`, `missing`,
// `missing_permission`, ...) a key of its own. This module imports nothing, so
// the SDK and the console may use its types without the server's libraries.
// The ApiError class that throws these stays in src/api/errors.ts.

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
export interface FieldProblem {
  field: string;
  message: string;
}

/** What an error may carry beside its message: each is a top-level key of its body. */
export interface ErrorFacts {
  /** invalid_request: each field and what is wrong with it. */
  fields?: FieldProblem[];
  /** The job the error is about (no_agent_answered, idempotency_key_reused, job_finished). */
  job_id?: string;
  /** no_agent_answered: the hosts that never answered. */
  missing?: string[];
  /** forbidden: the permission the token lacks. */
  missing_permission?: string;
  /** forbidden by a command policy: the roles' merged policy. */
  command_policy?: unknown;
  /** no_matching_agent: the target as written, and how many agents there were. */
  target?: string;
  agents_ready?: number;
  agents_registered?: number;
  /** 429s: the limit reached (a config key, or `user`/`server`), its values and when to retry. */
  limit?: string;
  per_minute?: number;
  burst?: number;
  retry_after_s?: number;
  max_streams_per_user?: number;
}

export interface ErrorBody extends ErrorFacts {
  error: string;
  code: number;
  reason: ErrorReason;
  /** A human-readable summary of the structured keys, when there are any. */
  details?: string;
}

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
