// Wire schemas of the agent routes.
import { type Static, Type } from 'typebox';
import { AGENT_NAME_MAX, AGENT_NAME_PATTERN } from './agent-name.js';
import { NodeCondition } from './conditions.js';
import { NetworkInterface, Route } from './facts.js';

/** One event of an agent's life: drained, cordoned, back to Ready, a condition changed, started. */
export const TimelineEvent = Type.Object({
  timestamp: Type.String({ format: 'date-time' }),
  event: Type.String(),
  hostname: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
});
export type TimelineEvent = Static<typeof TimelineEvent>;

/**
 * Ready: takes jobs. Draining: an operator drained it; it finishes what it
 * runs and takes nothing new. Cordoned: drained and idle. Pending: its key
 * is not accepted (new, changed, or rejected); it takes no jobs.
 */
export const AgentState = Type.Union([
  Type.Literal('Ready'),
  Type.Literal('Draining'),
  Type.Literal('Cordoned'),
  Type.Literal('Pending'),
]);
export type AgentState = Static<typeof AgentState>;

export const AgentInfo = Type.Object({
  hostname: Type.String(),
  status: Type.Union([Type.Literal('Ready'), Type.Literal('NotReady')]),
  labels: Type.Record(Type.String(), Type.String()),
  /** When the agent's registry entry was last written (its last heartbeat). */
  registered_at: Type.String({ format: 'date-time' }),
  started_at: Type.String({ format: 'date-time' }),
  os_info: Type.Object({ distribution: Type.String(), version: Type.String() }),
  uptime: Type.String({ description: 'Host uptime as a duration string, e.g. 3d4h5m6s.' }),
  load_average: Type.Object({
    '1min': Type.Number(),
    '5min': Type.Number(),
    '15min': Type.Number(),
  }),
  memory: Type.Object({ total: Type.Integer(), free: Type.Integer(), used: Type.Integer() }),
  /** Ours: seconds since the last heartbeat, and how many jobs it runs at once. */
  heartbeat_age_s: Type.Integer(),
  max_jobs: Type.Integer(),
  version: Type.String(),
  // From the agent's facts (contract/facts.ts), once it has stored them.
  machine_id: Type.Optional(Type.String()),
  architecture: Type.Optional(Type.String()),
  kernel_version: Type.Optional(Type.String()),
  cpu_count: Type.Optional(Type.Integer()),
  fqdn: Type.Optional(Type.String()),
  service_mgr: Type.Optional(Type.String()),
  package_mgr: Type.Optional(Type.String()),
  interfaces: Type.Optional(Type.Array(NetworkInterface)),
  primary_interface: Type.Optional(Type.String()),
  routes: Type.Optional(Type.Array(Route)),
  /** Every fact by its `@fact.` key (GET /facts/keys), custom ones under `custom.`. */
  facts: Type.Optional(Type.Record(Type.String(), Type.String())),
  /** Whether it takes jobs (AgentState). */
  state: AgentState,
  /** Its key's fingerprint, and whether that key is accepted, waits, or was rejected. */
  fingerprint: Type.Optional(Type.String()),
  enrollment: Type.Optional(
    Type.Union([Type.Literal('accepted'), Type.Literal('pending'), Type.Literal('rejected')]),
  ),
  /** Its recent life, oldest first: drains, conditions, starts. */
  timeline: Type.Optional(Type.Array(TimelineEvent)),
  /** MemoryPressure, DiskPressure and HighLoad as the agent last evaluated them. */
  conditions: Type.Optional(Type.Array(NodeCondition)),
  /** When the facts were collected. */
  facts_collected_at: Type.Optional(Type.String({ format: 'date-time' })),
});
export type AgentInfo = Static<typeof AgentInfo>;

export const AgentList = Type.Object({
  agents: Type.Array(AgentInfo),
  total: Type.Integer(),
});
export type AgentList = Static<typeof AgentList>;

export const AgentListQuery = Type.Object(
  {
    target: Type.Optional(
      Type.String({
        description:
          'Only the Ready agents this target would reach: _any, _all, a hostname, key:value or fact:<key><op><value>.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const AgentParams = Type.Object({
  hostname: Type.String({ minLength: 1, maxLength: AGENT_NAME_MAX, pattern: AGENT_NAME_PATTERN }),
});

/** What POST /agent/{hostname}/drain and /undrain answer. */
export const AgentStateChange = Type.Object({
  hostname: Type.String(),
  state: AgentState,
  message: Type.String(),
});
export type AgentStateChange = Static<typeof AgentStateChange>;

/** An agent whose key waits for an operator (GET /agent/pending). */
export const PendingAgentInfo = Type.Object({
  machine_id: Type.String(),
  hostname: Type.String(),
  fingerprint: Type.String(),
  /** When the agent with this key started asking. */
  requested_at: Type.String({ format: 'date-time' }),
});
export type PendingAgentInfo = Static<typeof PendingAgentInfo>;

export const ListPendingAgentsResponse = Type.Object({
  agents: Type.Array(PendingAgentInfo),
  total: Type.Integer(),
});
export type ListPendingAgentsResponse = Static<typeof ListPendingAgentsResponse>;

export const AcceptQuery = Type.Object(
  {
    fingerprint: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description:
          'Accept only if the agent presents this key (osapi agent key fingerprint, run on the host).',
      }),
    ),
  },
  { additionalProperties: false },
);

/** What POST /agent/{hostname}/accept and /reject answer. */
export const EnrollmentChange = Type.Object({
  hostname: Type.String(),
  fingerprint: Type.String(),
  status: Type.Union([Type.Literal('accepted'), Type.Literal('rejected')]),
  message: Type.String(),
});
export type EnrollmentChange = Static<typeof EnrollmentChange>;
