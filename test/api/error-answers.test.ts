// How the API answers an error a route throws, through its one error handler
// (src/api/server.ts errorAnswerer), with Fastify's inject and no NATS: NATS
// being away (a node lost, a cluster electing a leader) is a 503 with a retry
// hint, header and field alike; anything unknown is a 500 that names no cause.
import { errors } from '@nats-io/transport-node';
import Fastify from 'fastify';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/errors.js';
import { errorAnswerer, NATS_RETRY_AFTER_S } from '../../src/api/server.js';
import { OutageLog } from '../../src/log/outage-log.js';

const app = Fastify();
const warnings: string[] = [];
const logger = pino({ level: 'warn' }, { write: (l: string) => warnings.push(JSON.parse(l).msg) });
app.setErrorHandler(errorAnswerer(new OutageLog(logger)));
app.get('/timeout', async () => {
  throw new errors.TimeoutError();
});
app.get('/gone', async () => {
  throw new errors.ClosedConnectionError();
});
app.get('/bug', async () => {
  throw new Error('secret detail of a bug');
});
app.get('/api-error', async () => {
  throw new ApiError('not_found', 'no job x');
});
afterAll(() => app.close());

describe('answerError', () => {
  it('answers NATS away with 503 nats_unavailable and when to try again', async () => {
    for (const url of ['/timeout', '/gone']) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(503);
      expect(r.headers['retry-after']).toBe(String(NATS_RETRY_AFTER_S));
      const body = r.json();
      expect(body).toMatchObject({
        code: 503,
        reason: 'nats_unavailable',
        retry_after_s: NATS_RETRY_AFTER_S,
      });
      expect(body.error).toContain(`try again in ${NATS_RETRY_AFTER_S} s`);
    }
    // Two requests failed by one outage: one warning.
    expect(warnings.filter((w) => w.includes('NATS unavailable'))).toHaveLength(1);
  });

  it('answers an ApiError as it is, and anything else as a 500 naming no cause', async () => {
    expect((await app.inject({ url: '/api-error' })).json()).toMatchObject({
      code: 404,
      reason: 'not_found',
    });
    const bug = await app.inject({ url: '/bug' });
    expect(bug.statusCode).toBe(500);
    expect(bug.json().reason).toBe('internal');
    expect(bug.body).not.toContain('secret detail');
  });
});
