// A span for every API request (docs/tracing.md): the child of the client's
// `traceparent` when it sent one, or the root of a new trace. The handler
// runs with it active, so the job's publish and collection spans are its
// children and the job notification carries its context to the agents. The
// request's trace id goes into its log lines and its audit entry; a client's
// trace id is recorded even when this process exports nothing.
import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { startSpan, traceIdOf, tracingOn } from '../trace/tracing.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's trace id: its span's, or the client's `traceparent`'s. */
    traceId?: string;
    traceSpan?: Span;
  }
}

/** `POST /node/{hostname}/command/exec`: the route as declared, in the API's own path style. */
function spanNameOf(req: FastifyRequest): string {
  const route = req.routeOptions.url;
  return route ? `${req.method} ${route.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}` : req.method;
}

export function registerTracing(app: FastifyInstance): void {
  app.addHook('onRequest', (req, reply, done) => {
    if (!tracingOn()) {
      const incoming = traceIdOf(req.headers.traceparent);
      if (incoming) withTraceId(req, reply, incoming);
      done();
      return;
    }
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = startSpan(
      spanNameOf(req),
      {
        'http.request.method': req.method,
        'url.path': req.url.split('?')[0] ?? '',
        ...(req.routeOptions.url ? { 'http.route': req.routeOptions.url } : {}),
      },
      { parent, kind: SpanKind.SERVER },
    );
    req.traceSpan = span;
    withTraceId(req, reply, span.spanContext().traceId);
    done();
  });
  // The handler is called from this hook's `done`: it, and everything it
  // awaits, runs with the request's span active.
  app.addHook('preHandler', (req, _reply, done) => {
    if (!req.traceSpan) {
      done();
      return;
    }
    context.with(trace.setSpan(ROOT_CONTEXT, req.traceSpan), done);
  });
  app.addHook('onResponse', async (req, reply) => {
    const span = req.traceSpan;
    if (!span) return;
    span.setAttribute('http.response.status_code', reply.statusCode);
    if (req.user) span.setAttribute('enduser.id', req.user.subject);
    if (reply.statusCode >= 500) span.setStatus({ code: 2 });
    span.end();
  });
  app.addHook('onRequestAbort', async (req) => {
    req.traceSpan?.end();
  });
}

/** The request's log lines, its completion's included (reply.log), carry its trace id. */
function withTraceId(req: FastifyRequest, reply: FastifyReply, traceId: string): void {
  req.traceId = traceId;
  const log = req.log.child({ trace_id: traceId });
  req.log = log;
  reply.log = log;
}
