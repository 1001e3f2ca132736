// The answer of GET /health/status: NATS, streams, buckets, agents.
import { type Static, Type } from 'typebox';

const Count = Type.Integer({ minimum: 0 });

const Component = Type.Object({
  status: Type.Enum(['ok', 'error']),
  error: Type.Optional(Type.String({ description: 'Why this component is not ok.' })),
});

export const HealthStatus = Type.Object(
  {
    status: Type.Enum(['ok', 'degraded'], {
      description: '`degraded` (HTTP 503) when any component is not ok.',
    }),
    version: Type.String(),
    uptime: Type.String({ description: 'Time since the API server started, e.g. 2h30m5s.' }),
    components: Type.Record(Type.String(), Component, {
      description: 'nats, stream, kv, consumers, agents.',
    }),
    nats: Type.Object({
      url: Type.String({ description: 'The NATS server this API server is connected to.' }),
      version: Type.String(),
    }),
    streams: Type.Array(
      Type.Object({ name: Type.String(), messages: Count, bytes: Count, consumers: Count }),
    ),
    kv_buckets: Type.Array(Type.Object({ name: Type.String(), keys: Count, bytes: Count })),
    jobs: Type.Object({
      total: Count,
      unprocessed: Type.Integer({
        minimum: 0,
        description: 'Submitted, not yet taken by an agent.',
      }),
      processing: Count,
      completed: Count,
      failed: Type.Integer({ minimum: 0, description: 'Every host failed.' }),
      partial_failure: Type.Integer({ minimum: 0, description: 'Some hosts failed.' }),
      dlq: Type.Integer({ minimum: 0, description: 'Notifications in the dead-letter stream.' }),
    }),
    agents: Type.Object({
      total: Count,
      ready: Count,
      agents: Type.Array(
        Type.Object({
          hostname: Type.String(),
          labels: Type.String({ description: 'key=value pairs, comma-separated.' }),
          registered: Type.String({ description: 'Age of the last heartbeat, e.g. "4s ago".' }),
          status: Type.Enum(['Ready', 'NotReady']),
        }),
      ),
    }),
    consumers: Type.Object({
      total: Count,
      consumers: Type.Array(
        Type.Object({
          name: Type.String(),
          pending: Type.Integer({ description: 'Messages not yet delivered.' }),
          ack_pending: Type.Integer({ description: 'Delivered, not yet acknowledged.' }),
          redelivered: Type.Integer({ description: 'Redelivered, not yet acknowledged.' }),
        }),
      ),
    }),
    // With 503, the fields every error body carries.
    error: Type.Optional(Type.String()),
    code: Type.Optional(Type.Integer()),
    reason: Type.Optional(Type.String()),
  },
  { description: 'System status; 200 when ok, 503 when degraded (same body).' },
);
export type HealthStatus = Static<typeof HealthStatus>;

/** One component's entry in the health status. */
export type ComponentStatus = Static<typeof Component>;
