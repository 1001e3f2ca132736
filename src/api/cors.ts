// Cross-origin requests (api.server.security.cors.allow_origins): pages on the
// listed origins may call the API from a browser; no other page may read an
// answer. Origins are exact (the config refuses `*` and anything but an
// origin). Credentials are a bearer token in `Authorization`, never a cookie,
// so `Access-Control-Allow-Credentials` is never sent: a page must hold a
// token to do anything, and the browser only lets listed origins read.
// With no origins listed (the default) nothing here is registered and the
// API sends no CORS header at all; the console at /ui/ is same-origin.
import type { FastifyInstance } from 'fastify';
import { type AuthSettings, authenticate } from './auth.js';
import { ApiError } from './errors.js';

/** What a listed page may send: the methods the API has, the headers its clients set. */
const ALLOW_METHODS = 'GET, POST, DELETE';
const ALLOW_HEADERS = 'authorization, content-type, idempotency-key, last-event-id';
/** Headers a page may read beside the simple ones: a replayed job, when to come back. */
const EXPOSE_HEADERS = 'idempotent-replayed, retry-after';
/** How long a browser may keep a preflight's answer. */
const MAX_AGE_S = 600;

/**
 * Registers the CORS headers and the preflight route. Call before the auth
 * hook: a 401 or 403 must carry the headers too, or the page cannot read why.
 */
export function registerCors(
  app: FastifyInstance,
  allowOrigins: readonly string[],
  auth: AuthSettings,
): void {
  if (allowOrigins.length === 0) return;
  const allowed = new Set(allowOrigins);

  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    // Set on the raw response, so they reach hijacked answers (the job stream) too.
    const raw = reply.raw;
    raw.setHeader('vary', 'Origin');
    if (typeof origin === 'string' && allowed.has(origin)) {
      raw.setHeader('access-control-allow-origin', origin);
      raw.setHeader('access-control-expose-headers', EXPOSE_HEADERS);
    }
  });

  app.route({
    method: 'OPTIONS',
    url: '/*',
    // A preflight carries no token by design: the browser asks before it sends one.
    config: { permission: 'public' },
    schema: { hide: true },
    handler: async (req, reply) => {
      const origin = req.headers.origin;
      const method = req.headers['access-control-request-method'];
      if (typeof origin !== 'string' || typeof method !== 'string') {
        // Not a preflight: as for any unknown route, a token first, then 404.
        await authenticate(req, auth);
        throw new ApiError('not_found', `no route OPTIONS ${req.url}`);
      }
      if (!allowed.has(origin)) {
        throw new ApiError(
          'forbidden',
          `pages of origin ${JSON.stringify(origin.slice(0, 200))} may not call this API from a browser; list it in api.server.security.cors.allow_origins`,
        );
      }
      return reply
        .code(204)
        .header('access-control-allow-methods', ALLOW_METHODS)
        .header('access-control-allow-headers', ALLOW_HEADERS)
        .header('access-control-max-age', String(MAX_AGE_S))
        .send();
    },
  });
}
