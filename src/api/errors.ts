// The API's error catalogue: every error a client can see, with its stable
// machine name (`reason`) and HTTP status, and the one body shape they share:
// `{error, code, reason, details?}` where `code` is the HTTP status.

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

export interface ErrorBody {
  error: string;
  code: number;
  reason: ErrorReason;
  details?: unknown;
}

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  constructor(
    readonly reason: ErrorReason,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.status = API_ERRORS[reason];
  }

  body(): ErrorBody {
    return {
      error: this.message,
      code: this.status,
      reason: this.reason,
      ...(this.details !== undefined ? { details: this.details } : {}),
    };
  }
}

/**
 * NATS or JetStream away (a restart, a cluster electing a leader, a lost
 * connection): the client should try again shortly, which a 500 would not say.
 */
export function isNatsUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if ((err as { status?: unknown }).status === 503) return true;
  return [
    'TimeoutError',
    'NoRespondersError',
    'JetStreamNotEnabled',
    'ClosedConnectionError',
    'DrainingConnectionError',
  ].includes(err.name);
}
