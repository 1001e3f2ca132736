// NATS failures told apart by the client library's own error classes and
// JetStream's codes, never by an error's name or message: a look-alike Error
// with the same name is not a NATS failure.
import {
  JetStreamApiCodes,
  JetStreamApiError,
  JetStreamStatusError,
  jserrors,
} from '@nats-io/jetstream/internal';
import { errors } from '@nats-io/transport-node';

/** JetStream's own "temporarily unavailable" (a cluster electing a leader, no quorum). */
const JS_UNAVAILABLE_STATUS = 503;

/**
 * NATS or JetStream away (a restart, a cluster electing a leader, a lost
 * connection): the client should try again shortly, which a 500 would not say.
 */
export function isNatsUnavailable(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return err.status === JS_UNAVAILABLE_STATUS;
  if (err instanceof errors.RequestError) {
    // Made by the client itself for a connection closed or lost mid-request
    // (no cause), or wrapping what went wrong: unavailable when that is.
    return err.cause === undefined || isNatsUnavailable(err.cause);
  }
  return (
    err instanceof errors.TimeoutError ||
    err instanceof errors.NoRespondersError ||
    err instanceof errors.ConnectionError ||
    err instanceof errors.ClosedConnectionError ||
    err instanceof errors.DrainingConnectionError ||
    err instanceof jserrors.JetStreamNotEnabled
  );
}

/** A create (or a publish expecting a sequence) refused because the key or subject moved on. */
export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** A request NATS did not answer in time (thrown as is, or as the cause of a RequestError). */
export function isTimeout(err: unknown): boolean {
  return (
    err instanceof errors.TimeoutError ||
    (err instanceof errors.RequestError && err.cause instanceof errors.TimeoutError)
  );
}

/** JetStream answered that the stream, bucket or consumer asked for does not exist. */
export function isNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.status === 404;
}

/**
 * A pull refused with a 409 status. The server sends only a code and a
 * description (nats-server 2.9: "Exceeded MaxWaiting", "Consumer Deleted"), and
 * the client library itself tells them apart by that text
 * (JetStreamStatus.isExceededMaxWaiting, isConsumerDeleted): there is no other
 * signal, so the description is matched here, on the library's status error only.
 */
function isPullStatus(err: unknown, description: RegExp): boolean {
  return err instanceof JetStreamStatusError && err.code === 409 && description.test(err.message);
}

/** The consumer already holds its max_waiting pulls: this one was refused. */
export function isMaxWaitingExceeded(err: unknown): boolean {
  return isPullStatus(err, /exceeded max ?waiting/i);
}

/** The consumer (or its stream) is gone: deleted under a pull, or not there at all. */
export function isConsumerGone(err: unknown): boolean {
  return isNotFound(err) || isPullStatus(err, /(consumer|stream) deleted/i);
}
