// Records every authenticated-or-refused API request in the audit log: who,
// what, from where, the answer and how long it took; for command requests the
// target and the command. Open probe routes (health, metrics, version,
// OpenAPI) carry no identity and change nothing, so they are not recorded.
// Requests Fastify answers before any hook runs (an over-long path segment,
// bad URL encoding: `recordFrameworkError`) and those Node's HTTP parser
// refuses (headers too large, malformed HTTP: `recordClientError`) are
// recorded too, as requests without a valid token. A request with a valid
// token beyond its subject's rate is refused before it runs, and not recorded
// (`admitAuthenticated`). The log bounds what an entry holds (fields.ts).
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditEntry } from '../../contract/audit.js';
import { newTimeOrderedId } from '../../job/ids.js';
import { ApiError } from '../errors.js';
import type { AuditLog } from './log.js';
import { recordedPath } from './path.js';

declare module 'fastify' {
  interface FastifyRequest {
    auditId?: string;
    auditStart?: number;
    /** The entry is queued: a request is recorded once, by whichever way it ended. */
    audited?: boolean;
    /** Set by a route acting on a stored job (deleting it): that job's target, for the entry. */
    auditTarget?: string;
  }
  interface FastifyContextConfig {
    /** An open route that is recorded all the same (signing in to the console). */
    auditPublic?: boolean;
  }
}

/** Open probe routes are not recorded, unless they ask to be. */
function unrecorded(req: FastifyRequest): boolean {
  const config = req.routeOptions.config;
  return config?.permission === 'public' && config.auditPublic !== true;
}

/** nginx's code for a request whose client closed the connection before the answer ended. */
export const CLIENT_CLOSED_REQUEST = 499;

export interface AuditHookOptions {
  log: AuditLog;
  /** Refuse a request (503) when its entry cannot be written before it runs. */
  required: boolean;
}

/**
 * For auth.ts to call once a request's token is verified, before its
 * permission is checked: takes one request's worth of the token subject's
 * rate (api.server.security.audit.user_rate, user_burst). A request beyond it
 * is refused 429 `too_many_requests` with a Retry-After before anything runs,
 * a 403 included, and counted (osapi_audit_dropped_total{reason=
 * "user_rate_limited"}) rather than recorded: a request that runs is always
 * recorded, so the rate is what bounds how fast one token holder can write to
 * the audit log.
 */
export function admitAuthenticated(log: AuditLog) {
  return (req: FastifyRequest, reply: FastifyReply): void => {
    if (!req.user || unrecorded(req)) return;
    const waitMs = log.admitUser(req.user.subject);
    if (waitMs === 0) return;
    req.audited = true;
    const { perMinute, burst } = log.userLimit;
    const waitS = Number.isFinite(waitMs) ? Math.max(1, Math.ceil(waitMs / 1000)) : 60;
    reply.header('retry-after', String(waitS));
    throw new ApiError(
      'too_many_requests',
      `${req.user.subject} sent more requests than the audit log records for one user (api.server.security.audit.user_rate: ${perMinute} a minute, after a burst of user_burst: ${burst}), so nothing was run; try again in ${waitS} s`,
      {
        limit: 'api.server.security.audit.user_rate',
        per_minute: perMinute,
        burst,
        retry_after_s: waitS,
      },
    );
  };
}

function entryFor(req: FastifyRequest, code: number): AuditEntry {
  const body = (req.body ?? {}) as {
    command?: unknown;
    args?: unknown;
    user?: unknown;
    env?: unknown;
  };
  const params = (req.params ?? {}) as { hostname?: unknown };
  const isCommand = /\/command\/(exec|shell)$/.test(req.routeOptions.url ?? '');
  return {
    id: req.auditId ?? newTimeOrderedId(),
    timestamp: new Date().toISOString(),
    user: req.user?.subject ?? '',
    roles: req.user?.roles ?? [],
    method: req.method,
    // Bounded, and never the query string: it may hold a credential.
    path: recordedPath(req.url),
    operation_id: operationId(req),
    source_ip: req.ip,
    response_code: code,
    duration_ms: Math.max(0, Math.round(performance.now() - (req.auditStart ?? performance.now()))),
    request_id: req.id,
    ...(req.traceId !== undefined ? { trace_id: req.traceId } : {}),
    ...(isCommand && typeof params.hostname === 'string'
      ? { target: params.hostname }
      : req.auditTarget !== undefined
        ? { target: req.auditTarget }
        : {}),
    // The body's text as sent: the log bounds it (fields.ts) before it is stored.
    ...(isCommand && typeof body.command === 'string' ? { command: body.command } : {}),
    ...(isCommand && Array.isArray(body.args) && body.args.every((a) => typeof a === 'string')
      ? { args: body.args as string[] }
      : {}),
    ...(isCommand && typeof body.user === 'string' ? { run_as: body.user } : {}),
    // The names only: values may be credentials.
    ...(isCommand && body.env !== null && typeof body.env === 'object' && !Array.isArray(body.env)
      ? { env_names: Object.keys(body.env) }
      : {}),
  };
}

/** The route as registered (`POST /node/:hostname/command/exec`): what was asked, whatever the path held. */
function operationId(req: FastifyRequest): string {
  return `${req.method} ${req.routeOptions.url ?? 'unknown-route'}`;
}

export function registerAuditHook(app: FastifyInstance, opts: AuditHookOptions): void {
  app.addHook('onRequest', async (req) => {
    req.auditStart = performance.now();
    req.auditId = newTimeOrderedId();
  });
  if (opts.required) {
    // Runs after authentication and validation, before the handler: nothing
    // has been done yet if the entry cannot be written.
    app.addHook('preHandler', async (req) => {
      if (unrecorded(req)) return;
      // Only an open route that is recorded (signing in to the console) gets
      // here without a token: its entries share the per-source rate of every
      // other unauthenticated entry, so a flood of them cannot write at will.
      if (!req.user && !opts.log.admitUnauthenticated(req.ip)) {
        throw new ApiError(
          'audit_unavailable',
          'too many requests without a valid token from this address are being recorded (api.server.security.audit.required is on), so nothing was run; try again in a minute',
        );
      }
      try {
        await opts.log.writeNow(entryFor(req, 0));
      } catch (err) {
        req.log.error({ err: String(err) }, 'audit entry could not be written; request refused');
        throw new ApiError(
          'audit_unavailable',
          'the audit log cannot be written (api.server.security.audit.required is on), so nothing was run; check the NATS server',
        );
      }
    });
  }
  app.addHook('onResponse', async (req, reply) => {
    if (unrecorded(req) || req.audited) return;
    req.audited = true;
    opts.log.enqueue(entryFor(req, reply.statusCode));
  });
  // A client that leaves first (a followed job stream, a command it stopped
  // waiting for) ends no response: it is recorded here instead.
  app.addHook('onRequestAbort', async (req) => {
    if (unrecorded(req) || req.audited) return;
    req.audited = true;
    opts.log.enqueue(entryFor(req, CLIENT_CLOSED_REQUEST));
  });
}

/**
 * An error Fastify answers before routing (frameworkErrors: an over-long path
 * segment, bad URL encoding), where no hook runs: recorded here instead.
 */
export function recordFrameworkError(log: AuditLog, req: FastifyRequest, code: number): void {
  if (req.audited) return;
  req.audited = true;
  log.enqueue(entryFor(req, code));
}

/** Reads `METHOD target` off the first bytes Node's parser refused, when they are there. */
function requestLine(raw: unknown): { method: string; target: string } {
  if (!Buffer.isBuffer(raw)) return { method: '', target: '' };
  // The request line fits in Node's header limit (16 KiB): nothing beyond
  // that is decoded, however large the packet.
  const text = raw.subarray(0, 17 * 1024).toString('latin1');
  const m = /^([A-Z]{1,16}) ([^\s]+)/.exec(text);
  return m?.[1] && m[2] ? { method: m[1], target: m[2] } : { method: '', target: '' };
}

/**
 * A request Node's HTTP parser refused (431 headers too large, 400 malformed
 * HTTP, 408 too slow): no Fastify request exists, so the entry is made from
 * the socket and what the parser had read. Never with a user: no token was
 * read.
 */
export function recordClientError(
  log: AuditLog,
  err: Error & { code?: unknown; rawPacket?: unknown },
  socket: Socket,
  code: number,
): void {
  const { method, target } = requestLine(err.rawPacket);
  const reason = typeof err.code === 'string' && /^[A-Z0-9_]{1,64}$/.test(err.code) ? err.code : '';
  log.enqueue({
    id: newTimeOrderedId(),
    timestamp: new Date().toISOString(),
    user: '',
    roles: [],
    method,
    path: recordedPath(target),
    operation_id: `client-error${reason ? ` ${reason}` : ''}`,
    source_ip: socket.remoteAddress ?? '',
    response_code: code,
    duration_ms: 0,
  });
}
