// Wire schemas of the audit routes.
import { type Static, Type } from 'typebox';

export const AuditEntry = Type.Object({
  id: Type.String({ format: 'uuid' }),
  timestamp: Type.String({ format: 'date-time' }),
  /** The token's subject; empty when the request carried no valid token. */
  user: Type.String(),
  roles: Type.Array(Type.String()),
  method: Type.String(),
  path: Type.String(),
  operation_id: Type.String(),
  source_ip: Type.String(),
  response_code: Type.Integer(),
  duration_ms: Type.Integer(),
  /** Ours, for command requests: where and what, never a token or a key. */
  target: Type.Optional(Type.String()),
  command: Type.Optional(Type.String()),
  args: Type.Optional(Type.Array(Type.String())),
  /** The `user` the command was asked to run as, and the names (never the values) of its `env`. */
  run_as: Type.Optional(Type.String()),
  env_names: Type.Optional(Type.Array(Type.String())),
  request_id: Type.Optional(Type.String()),
  /** The W3C trace id of the request (docs/tracing.md): when traced, or when the client sent a `traceparent`. */
  trace_id: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$' })),
});
export type AuditEntry = Static<typeof AuditEntry>;

export const AuditListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
);

export const AuditList = Type.Object({
  total_items: Type.Integer(),
  items: Type.Array(AuditEntry),
});

export const AuditIdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

export const AuditExportQuery = Type.Object(
  {
    format: Type.Optional(
      Type.Union([Type.Literal('json'), Type.Literal('jsonl')], {
        description: 'json (default): {total_items, items}; jsonl: one entry per line.',
      }),
    ),
  },
  { additionalProperties: false },
);
