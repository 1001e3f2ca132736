// The API's error class; the catalogue it draws on (reasons, HTTP statuses,
// body shape) is the wire contract's, in src/contract/errors.ts.
import {
  API_ERRORS,
  describeFacts,
  type ErrorBody,
  type ErrorFacts,
  type ErrorReason,
} from '../contract/errors.js';

export * from '../contract/errors.js';

export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  constructor(
    readonly reason: ErrorReason,
    message: string,
    readonly facts: ErrorFacts = {},
  ) {
    super(message);
    this.status = API_ERRORS[reason];
  }

  body(): ErrorBody {
    const details = describeFacts(this.facts);
    return {
      error: this.message,
      code: this.status,
      reason: this.reason,
      ...(details !== undefined ? { details } : {}),
      ...this.facts,
    };
  }
}

/** The 400 of one field at fault: `invalid body: name must be ...`, with `fields` naming it. */
export function invalidField(
  where: 'body' | 'params' | 'query',
  field: string,
  message: string,
): ApiError {
  return new ApiError('invalid_request', `invalid ${where}: ${field} ${message}`, {
    fields: [{ field, message }],
  });
}
