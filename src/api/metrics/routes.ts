// GET /metrics (open, so Prometheus scrapes without a
// token) and the hook that counts every request by its route pattern.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { type ApiMetrics, UNMATCHED_ROUTE } from './api-metrics.js';

/** Counts and times every answered request; registered before the routes. */
export function registerRequestMetrics(app: FastifyInstance, metrics: ApiMetrics): void {
  app.addHook('onResponse', async (req, reply) => {
    // The pattern keeps one series per route: `/job/:id`, not one per job id.
    const route = req.routeOptions.url ?? UNMATCHED_ROUTE;
    metrics.observeRequest(req.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });
}

const MetricsText = Type.String({
  description: 'Prometheus text exposition format (version 0.0.4).',
});

export function registerMetricsRoute(app: FastifyInstance, metrics: ApiMetrics): void {
  app.get(
    '/metrics',
    {
      config: { permission: 'public' },
      schema: {
        summary: 'Prometheus metrics',
        description:
          'Requests by route and status code with latency histograms, jobs by operation and status, job round trips, agents Ready, NATS reconnects, audit write failures and audit entries counted instead of stored.',
        produces: ['text/plain'],
        response: { 200: MetricsText },
      },
    },
    async (_req, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
}
