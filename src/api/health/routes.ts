// Liveness and readiness: open to anyone, so load balancers and supervisors
// can ask without a token. Ready means NATS is connected and the layout exists.
import type { FastifyInstance } from 'fastify';
import { type Static, Type } from 'typebox';
import { ApiError } from '../errors.js';

const Health = Type.Object({ status: Type.Literal('ok') });
const Ready = Type.Object({ status: Type.Literal('ready') });
const NotReady = Type.Object({
  status: Type.Literal('not_ready'),
  error: Type.String(),
  code: Type.Integer(),
  reason: Type.String(),
});
export type Health = Static<typeof Health>;

export interface ReadinessProbe {
  /** Resolves when ready; throws with the reason otherwise. */
  check(): Promise<void>;
}

export function registerHealthRoutes(app: FastifyInstance, probe: ReadinessProbe): void {
  app.get(
    '/health',
    {
      config: { permission: 'public' },
      schema: { summary: 'Liveness', response: { 200: Health } },
    },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/health/ready',
    {
      config: { permission: 'public' },
      schema: {
        summary: 'Readiness: NATS and the JetStream layout',
        response: { 200: Ready, 503: NotReady },
      },
    },
    async (_req, reply) => {
      try {
        await probe.check();
        return { status: 'ready' as const };
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        // The reference shape: {status: "not_ready", error}, plus our error fields.
        const e = new ApiError('not_ready', reason);
        return reply.code(503).send({ status: 'not_ready', ...e.body() });
      }
    },
  );
}
