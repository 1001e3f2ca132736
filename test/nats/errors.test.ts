import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { JetStreamStatusError, jserrors } from '@nats-io/jetstream/internal';
import { errors } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/errors.js';
import {
  isConsumerGone,
  isMaxWaitingExceeded,
  isNatsUnavailable,
  isNotFound,
  isTimeout,
  isWrongLastSequence,
} from '../../src/nats/errors.js';

function jsApiError(code: number, errCode: number, description: string): JetStreamApiError {
  return new JetStreamApiError({ code, err_code: errCode, description });
}

/** An Error that only looks like one of the library's: same name, same message. */
function lookAlike(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

describe('isNatsUnavailable', () => {
  it('is true for the client library failures that mean NATS is away', () => {
    expect(isNatsUnavailable(new errors.TimeoutError())).toBe(true);
    expect(isNatsUnavailable(new errors.NoRespondersError('$JS.API.INFO'))).toBe(true);
    expect(isNatsUnavailable(new errors.ClosedConnectionError())).toBe(true);
    expect(isNatsUnavailable(new errors.DrainingConnectionError())).toBe(true);
    expect(isNatsUnavailable(new errors.ConnectionError('connection refused'))).toBe(true);
    expect(isNatsUnavailable(new jserrors.JetStreamNotEnabled('jetstream is not enabled'))).toBe(
      true,
    );
    // what the client makes for a request cut by a lost connection, or with no responders
    expect(isNatsUnavailable(new errors.RequestError('connection disconnected'))).toBe(true);
    const noResponders = new errors.RequestError('no responders', {
      cause: new errors.NoRespondersError('x'),
    });
    expect(isNatsUnavailable(noResponders)).toBe(true);
    // JetStream's own "temporarily unavailable"
    expect(
      isNatsUnavailable(jsApiError(503, 10008, 'JetStream system temporarily unavailable')),
    ).toBe(true);
  });

  it('is false for other JetStream answers and for look-alikes of another class', () => {
    expect(
      isNatsUnavailable(jsApiError(404, JetStreamApiCodes.StreamNotFound, 'stream not found')),
    ).toBe(false);
    expect(
      isNatsUnavailable(
        new errors.RequestError('permissions violation', {
          cause: new errors.PermissionViolationError('denied', 'publish', 'x'),
        }),
      ),
    ).toBe(false);
    // the names the library really uses, and the one it never used
    for (const name of [
      'TimeoutError',
      'NoResponders',
      'NoRespondersError',
      'RequestError',
      'ConnectionError',
      'ClosedConnectionError',
      'DrainingConnectionError',
      'JetStreamNotEnabled',
    ]) {
      expect(isNatsUnavailable(lookAlike(name, 'timeout')), name).toBe(false);
    }
    const withStatus = Object.assign(new Error('busy'), { status: 503 });
    expect(isNatsUnavailable(withStatus)).toBe(false);
    expect(isNatsUnavailable('timeout')).toBe(false);
    expect(isNatsUnavailable(undefined)).toBe(false);
  });
});

describe('the other NATS checks', () => {
  it('wrong last sequence by its JetStream code, not by its text', () => {
    expect(
      isWrongLastSequence(
        jsApiError(400, JetStreamApiCodes.StreamWrongLastSequence, 'wrong last sequence: 1'),
      ),
    ).toBe(true);
    expect(
      isWrongLastSequence(
        jsApiError(
          400,
          JetStreamApiCodes.StreamWrongLastSequenceUnknown,
          'wrong last sequence unknown',
        ),
      ),
    ).toBe(true);
    expect(isWrongLastSequence(jsApiError(400, 10999, 'wrong last sequence: 1'))).toBe(false);
    expect(isWrongLastSequence(lookAlike('JetStreamApiError', 'wrong last sequence: 1'))).toBe(
      false,
    );
  });

  it('timeouts by class', () => {
    expect(isTimeout(new errors.TimeoutError())).toBe(true);
    expect(
      isTimeout(new errors.RequestError('timeout', { cause: new errors.TimeoutError() })),
    ).toBe(true);
    expect(isTimeout(lookAlike('TimeoutError', 'timeout'))).toBe(false);
    expect(isTimeout(new Error('request timed out'))).toBe(false);
  });

  it('not found and gone consumers', () => {
    const stream = new jserrors.StreamNotFoundError({
      code: 404,
      err_code: JetStreamApiCodes.StreamNotFound,
      description: 'stream not found',
    });
    const consumer = new jserrors.ConsumerNotFoundError({
      code: 404,
      err_code: JetStreamApiCodes.ConsumerNotFound,
      description: 'consumer not found',
    });
    expect(isNotFound(stream)).toBe(true);
    expect(isNotFound(consumer)).toBe(true);
    expect(isNotFound(lookAlike('StreamNotFoundError', 'stream not found'))).toBe(false);
    expect(isConsumerGone(consumer)).toBe(true);
    expect(isConsumerGone(new JetStreamStatusError('consumer deleted', 409))).toBe(true);
    expect(isConsumerGone(new Error('consumer deleted'))).toBe(false);
  });

  it('max_waiting by the 409 status the library makes', () => {
    expect(isMaxWaitingExceeded(new JetStreamStatusError('exceeded maxwaiting', 409))).toBe(true);
    expect(isMaxWaitingExceeded(new JetStreamStatusError('exceeded maxwaiting', 408))).toBe(false);
    expect(isMaxWaitingExceeded(lookAlike('JetStreamStatusError', 'exceeded maxwaiting'))).toBe(
      false,
    );
  });
});

describe('ApiError body', () => {
  it('has no details when there is nothing structured', () => {
    expect(new ApiError('not_found', 'no job x').body()).toEqual({
      error: 'no job x',
      code: 404,
      reason: 'not_found',
    });
  });

  it('keeps each fact as its own key and sums them up in a string', () => {
    const body = new ApiError('no_agent_answered', 'no agent answered', {
      job_id: 'j1',
      missing: ['web-01', 'web-02'],
    }).body();
    expect(body).toEqual({
      error: 'no agent answered',
      code: 500,
      reason: 'no_agent_answered',
      job_id: 'j1',
      missing: ['web-01', 'web-02'],
      details: 'job_id: j1; missing: web-01, web-02',
    });
  });

  it('puts per-field problems in fields, and details stays a string', () => {
    const body = new ApiError('invalid_request', 'invalid body', {
      fields: [
        { field: 'command', message: 'must not be empty' },
        { field: 'timeout', message: 'must be an integer' },
      ],
    }).body();
    expect(body.fields).toEqual([
      { field: 'command', message: 'must not be empty' },
      { field: 'timeout', message: 'must be an integer' },
    ]);
    expect(body.details).toBe('command: must not be empty; timeout: must be an integer');
  });
});
