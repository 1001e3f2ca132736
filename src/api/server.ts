// Builds the API server: Fastify with one JSON Schema per route for
// validation, serialization and the OpenAPI document; authentication and
// permissions from auth.ts; every error rendered by one handler below.

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { AgentStateView } from '../job/agent-state-view.js';
import type { FactsView } from '../job/facts-view.js';
import type { Logger } from '../log/logger.js';
import { OutageLog } from '../log/outage-log.js';
import { isNatsUnavailable } from '../nats/errors.js';
import { registerAgentRoutes } from './agent/routes.js';
import {
  admitAuthenticated,
  recordClientError,
  recordFrameworkError,
  registerAuditHook,
} from './audit/hook.js';
import type { AuditBuckets, AuditLog } from './audit/log.js';
import { registerAuditRoutes } from './audit/routes.js';
import { type AuthSettings, authenticate, registerAuth } from './auth.js';
import { type ConsoleOptions, registerConsole } from './console/static.js';
import { registerCors } from './cors.js';
import type { DispatchDeps } from './dispatch.js';
import { API_ERRORS, ApiError } from './errors.js';
import { type FileRouteDeps, registerFileRoutes } from './files/routes.js';
import { type ReadinessProbe, registerHealthRoutes } from './health/routes.js';
import { type HealthStatusDeps, registerHealthStatusRoute } from './health/status.js';
import { type JobRouteDeps, registerJobRoutes } from './job/routes.js';
import { createJobService } from './job-service.js';
import { type ConnectionLimits, capConnections, fastifyLimitOptions } from './limits.js';
import type { ApiMetrics } from './metrics/api-metrics.js';
import { registerMetricsRoute, registerRequestMetrics } from './metrics/routes.js';
import { registerOpenApi, registerOpenApiRoute } from './openapi/document.js';
import { registerOperationRoutes } from './operations/routes.js';
import { lazySchemaCompilers, type SchemaCompilers } from './schema-compilers.js';
import { registerSessionRoutes, type SessionDeps } from './session/routes.js';
import { registerTracing } from './tracing-hook.js';
import { describeValidation } from './validation.js';
import { registerVersionRoute } from './version/routes.js';

export interface ApiServerDeps {
  logger: Logger;
  auth: AuthSettings;
  readiness: ReadinessProbe;
  dispatch: DispatchDeps;
  /** Every agent's facts, for GET /agent and GET /facts/keys. */
  facts: FactsView;
  /** What operators asked of each agent (drained or not). */
  states: AgentStateView;
  jobs: JobRouteDeps;
  audit: { log: AuditLog; buckets: AuditBuckets; required: boolean };
  health: HealthStatusDeps;
  metrics: ApiMetrics;
  session: SessionDeps;
  /** The file store (POST /file, deployments' objects). */
  files: FileRouteDeps;
  /** The web console at /ui/; absent when api.server.ui.enabled is off. */
  console?: ConsoleOptions;
  /** The MCP server at /mcp (api.server.mcp.enabled). */
  mcp?: boolean;
  /** Bounds on client connections (api.server.limits, resolved in limits.ts). */
  limits: ConnectionLimits;
  /** Origins whose pages may call the API (api.server.security.cors.allow_origins). */
  cors?: { allowOrigins: readonly string[] };
  /** Reverse proxies whose X-Forwarded-For is believed (api.server.security.trusted_proxies). */
  trustedProxies?: string[];
}

/**
 * Answers a request Node's HTTP parser refused, as Fastify's default handler
 * would (431 for headers too large, 408 for a timeout, else 400, then the
 * connection is closed), and records it in the audit log.
 */
function answerClientError(
  log: AuditLog,
  err: Error & { code?: unknown; rawPacket?: unknown },
  socket: Socket,
): void {
  // A connection reset or already closed: no request, no answer to record.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const reason =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 'headers_too_large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'request_timeout'
        : 'invalid_request';
  const message =
    reason === 'headers_too_large'
      ? 'the request line and headers are larger than 16 KiB'
      : reason === 'request_timeout'
        ? 'the request did not arrive in time'
        : 'the request is not valid HTTP';
  const status = API_ERRORS[reason];
  if (socket.writable) {
    const body = JSON.stringify(new ApiError(reason, message).body());
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
    recordClientError(log, err, socket, status);
  }
  socket.destroy(err);
}

function validatorFor(coerce: boolean): Ajv {
  // Bodies are JSON and must be exact: no coercion ("30" is not 30), no
  // silently dropped unknown fields. Paths and query strings are text, so
  // those are coerced.
  const ajv = new Ajv({
    // Every problem at once, so a client fixes a body in one round.
    allErrors: true,
    coerceTypes: coerce,
    removeAdditional: false,
    useDefaults: true,
    strict: false,
  });
  addFormats.default(ajv);
  return ajv;
}

const compilersOf = new WeakMap<FastifyInstance, SchemaCompilers>();

/** The schema compilers of a server `buildApiServer` made. */
export function schemaCompilersOf(app: FastifyInstance): SchemaCompilers | undefined {
  return compilersOf.get(app);
}

export async function buildApiServer(deps: ApiServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the generic only narrows the instance type.
    loggerInstance: deps.logger.child({ component: 'api' }) as FastifyBaseLogger,
    genReqId: () => crypto.randomUUID(),
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    // X-Forwarded-For counts only from a configured proxy: anyone else could
    // name any address, and spread a flood over as many per-source limits.
    trustProxy: deps.trustedProxies && deps.trustedProxies.length > 0 ? deps.trustedProxies : false,
    ...fastifyLimitOptions(deps.limits),
    // Hostnames may be 253 characters; a path segment beyond that is refused.
    routerOptions: { maxParamLength: 300 },
    // Errors Fastify raises before routing (bad URL encoding, an overlong
    // path segment) get the same body as every other error.
    frameworkErrors: (err, req, reply) => {
      const status = err.statusCode ?? 400;
      const reason = status === 414 ? 'uri_too_long' : 'invalid_request';
      // The framework-error reply is typed without route schemas; it is a plain reply here.
      void (reply as unknown as FastifyReply)
        .code(API_ERRORS[reason])
        .send(new ApiError(reason, err.message).body());
      // No hook runs for these: the audit entry is made here.
      recordFrameworkError(deps.audit.log, req, API_ERRORS[reason]);
    },
    // Requests Node's parser refuses never reach Fastify: answered (in the
    // API's error shape) and recorded here.
    clientErrorHandler: (err, socket) => answerClientError(deps.audit.log, err, socket),
  });

  capConnections(app.server, deps.limits.maxConnections, deps.logger.child({ component: 'api' }));

  // JSON only: anything else is a 415, not a string the schema then refuses.
  app.removeContentTypeParser(['text/plain']);

  const compilers = lazySchemaCompilers(validatorFor(false), validatorFor(true));
  app.setValidatorCompiler(compilers.validator);
  app.setSerializerCompiler(compilers.serializer);
  compilersOf.set(app, compilers);

  // One warning per NATS outage for the requests it fails; a later answer below 500 may end it.
  const outage = new OutageLog(deps.logger.child({ component: 'api' }));
  app.setErrorHandler(errorAnswerer(outage));
  app.addHook('onResponse', async (_req, reply) => {
    if (reply.statusCode < 500) outage.worked();
  });

  app.setNotFoundHandler(async (req, reply) => {
    // Every path but the open ones needs a token, unknown ones included.
    await authenticate(req, deps.auth);
    return reply
      .code(404)
      .send(new ApiError('not_found', `no route ${req.method} ${req.url}`).body());
  });

  // First: a request refused by any later hook has its span and trace id too.
  registerTracing(app);
  // Before the auth hook: refusals carry the CORS headers too, so a page can read them.
  registerCors(app, deps.cors?.allowOrigins ?? [], deps.auth);
  // A request with a token beyond its subject's audit rate is refused right
  // after its token is verified, before its permission is checked.
  registerAuth(app, deps.auth, { authenticated: admitAuthenticated(deps.audit.log) });
  registerAuditHook(app, deps.audit);
  registerRequestMetrics(app, deps.metrics);
  await registerOpenApi(app);
  registerRoutes(app, deps);
  // Not an API route: files for a browser, outside the OpenAPI document.
  if (deps.console) registerConsole(app, deps.console);
  // Not an API route either: a protocol for assistants whose calls are requests to the routes.
  // Loaded only when on: a server without it never loads the MCP SDK.
  if (deps.mcp) (await import('./mcp/route.js')).registerMcpRoute(app);
  return app;
}

/** Every domain's routes; each declares its permission beside itself. */
export function registerRoutes(
  app: FastifyInstance,
  deps: Omit<ApiServerDeps, 'logger' | 'auth' | 'limits'>,
): void {
  registerHealthRoutes(app, deps.readiness);
  registerVersionRoute(app);
  registerAgentRoutes(app, { ...deps.dispatch, facts: deps.facts, states: deps.states });
  // Every route that makes a job makes it through the one job service.
  const jobService = createJobService(deps.dispatch);
  registerOperationRoutes(app, jobService, deps.files);
  registerFileRoutes(app, deps.files);
  registerJobRoutes(app, deps.jobs, jobService, deps.files);
  registerAuditRoutes(app, deps.audit);
  registerSessionRoutes(app, deps.session);
  registerHealthStatusRoute(app, deps.health);
  registerMetricsRoute(app, deps.metrics);
  registerOpenApiRoute(app);
}

/** How long a client is told to wait when NATS is away: an election takes seconds. */
export const NATS_RETRY_AFTER_S = 5;

/**
 * Every error a route throws, as the one error body: an ApiError as it is, a
 * validation failure as a 400 naming each field, Fastify's own client errors,
 * NATS being away as a 503 with a retry hint (told once per outage in the
 * log), anything else a 500 that says nothing of its cause (the log has it).
 */
export function errorAnswerer(outage: OutageLog) {
  return (err: FastifyError | ApiError, req: FastifyRequest, reply: FastifyReply): FastifyReply =>
    answerError(err, req, reply, outage);
}

function answerError(
  err: FastifyError | ApiError,
  req: FastifyRequest,
  reply: FastifyReply,
  outage: OutageLog,
): FastifyReply {
  if (err instanceof ApiError) {
    if (err.status >= 500) req.log.error({ reason: err.reason }, err.message);
    return reply.code(err.status).send(err.body());
  }
  if (err.validation) {
    const { message, fields } = describeValidation(err.validation, err.validationContext ?? 'body');
    return reply.code(400).send(new ApiError('invalid_request', message, { fields }).body());
  }
  const status = err.statusCode ?? 500;
  if (status === 415) {
    return reply
      .code(415)
      .send(
        new ApiError(
          'unsupported_media_type',
          'send the body as JSON with Content-Type: application/json',
        ).body(),
      );
  }
  if (status === 413) {
    return reply
      .code(413)
      .send(
        new ApiError(
          'payload_too_large',
          `the body is larger than this route takes (${req.routeOptions.bodyLimit ?? 1024 * 1024} bytes)`,
        ).body(),
      );
  }
  if (status >= 400 && status < 500) {
    // Fastify's own client errors: empty or malformed JSON body, bad headers.
    return reply.code(400).send(new ApiError('invalid_request', err.message).body());
  }
  if (isNatsUnavailable(err)) {
    outage.failed('a request failed: NATS unavailable', err, { req_id: req.id });
    // A NATS cluster electing a leader answers again within seconds.
    reply.header('retry-after', String(NATS_RETRY_AFTER_S));
    return reply
      .code(503)
      .send(
        new ApiError(
          'nats_unavailable',
          `NATS is not available right now (${err.message}); try again in ${NATS_RETRY_AFTER_S} s. A job may have been recorded before it failed: GET /job lists it (send the same Idempotency-Key again and it is never made twice).`,
          { retry_after_s: NATS_RETRY_AFTER_S },
        ).body(),
      );
  }
  req.log.error({ err }, 'unhandled error');
  return reply
    .code(500)
    .send(new ApiError('internal', 'internal error; see the server log for the request id').body());
}
