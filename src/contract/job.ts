// Wire schemas of the job routes.
import { type Static, Type } from 'typebox';
import { OPERATION_TYPES } from './operations.js';
import { FINAL_HOST_STATES, HOST_STATES, JOB_STATUSES, OUTPUT_STREAMS } from './states.js';

export const JobOperation = Type.Object(
  {
    type: Type.Enum(OPERATION_TYPES, { description: 'The job operation type.' }),
    data: Type.Object(
      {},
      {
        additionalProperties: true,
        description: 'Validated per type, as the command routes validate their bodies.',
      },
    ),
  },
  { additionalProperties: false },
);
export type JobOperation = Static<typeof JobOperation>;

export const CreateJobBody = Type.Object(
  {
    operation: JobOperation,
    target_hostname: Type.String({
      description: '_any, _all, a hostname, key:value or fact:<key><op><value>.',
    }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        operation: { type: 'command.shell.execute', data: { command: 'uptime' } },
        target_hostname: '_all',
      },
      {
        operation: {
          type: 'command.exec.execute',
          data: { command: 'systemctl', args: ['is-active', 'nginx'], timeout: 10 },
        },
        target_hostname: 'group:web',
      },
    ],
  },
);
export type CreateJobBody = Static<typeof CreateJobBody>;

export const RetryJobBody = Type.Object(
  { target_hostname: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

export const JobCreated = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  status: Type.Literal('submitted'),
  revision: Type.Integer(),
  timestamp: Type.String({ format: 'date-time' }),
});
export type JobCreated = Static<typeof JobCreated>;

export const JobIdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

export const JobListQuery = Type.Object(
  {
    status: Type.Optional(Type.Enum(JOB_STATUSES)),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
);

const HostResponse = Type.Object({
  status: Type.String(),
  data: Type.Unknown(),
  error: Type.Optional(Type.String()),
  hostname: Type.String(),
  /** Ours: how the host's part ended (succeeded, failed, timed_out, cancelled, ...). */
  state: Type.Optional(Type.Enum(FINAL_HOST_STATES)),
});

const AgentState = Type.Object({
  /** pending, running, succeeded, failed, timed_out, cancelled, skipped, no_response or refused. */
  status: Type.Enum(HOST_STATES),
  error: Type.Optional(Type.String()),
  duration: Type.Optional(Type.String()),
});

const TimelineEvent = Type.Object({
  timestamp: Type.String({ format: 'date-time' }),
  event: Type.String(),
  hostname: Type.String(),
  message: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
});

export const JobDetail = Type.Object({
  id: Type.String({ format: 'uuid' }),
  status: Type.Enum(JOB_STATUSES),
  created: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  /** The target the job was sent to, or the host that ran a one-host job. */
  hostname: Type.String(),
  operation: Type.Object({ type: Type.String(), data: Type.Unknown() }),
  result: Type.Unknown(),
  error: Type.Optional(Type.String()),
  created_by: Type.String(),
  target_hostname: Type.String(),
  responses: Type.Record(Type.String(), HostResponse),
  agent_states: Type.Record(Type.String(), AgentState),
  timeline: Type.Array(TimelineEvent),
});
export type JobDetail = Static<typeof JobDetail>;

export const JobList = Type.Object({ total_items: Type.Integer(), items: Type.Array(JobDetail) });
export type JobList = Static<typeof JobList>;

export const JobStats = Type.Object({
  total_jobs: Type.Integer(),
  status_counts: Type.Record(Type.String(), Type.Integer()),
  operation_counts: Type.Record(Type.String(), Type.Integer()),
  dlq_count: Type.Integer(),
});
export type JobStats = Static<typeof JobStats>;

// ---- GET /job/{id}/stream: the data of each Server-Sent Event -------------

export const StreamOutputData = Type.Object({
  hostname: Type.String(),
  stream: Type.Enum(OUTPUT_STREAMS),
  /** As the command wrote it, in pieces that need not end at a line. */
  data: Type.String(),
  /** This stream reached the agent's cap here: no more of it comes live. */
  truncated: Type.Optional(Type.Literal(true)),
});
export type StreamOutputData = Static<typeof StreamOutputData>;

export const StreamResultData = Type.Object({
  hostname: Type.String(),
  /** The stored result's status; null when the host has no result (it never answered, or refused). */
  status: Type.Union([Type.Literal('completed'), Type.Literal('failed'), Type.Null()]),
  /** The command's exit code; null when no command ran or the operation has none. */
  exit_code: Type.Union([Type.Integer(), Type.Null()]),
  /** The host's state, as `agent_states` in GET /job/{id} shows it: always a final one. */
  state: Type.Enum(HOST_STATES),
  error: Type.Optional(Type.String()),
});
export type StreamResultData = Static<typeof StreamResultData>;

export const StreamSkippedData = Type.Object({
  /** Output events this client did not get. */
  events: Type.Integer({ minimum: 1 }),
  message: Type.String(),
});
export type StreamSkippedData = Static<typeof StreamSkippedData>;

export const StreamEndData = Type.Object({ status: Type.Enum(JOB_STATUSES) });
export type StreamEndData = Static<typeof StreamEndData>;

export const StreamHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.String({
      maxLength: 64,
      description:
        'The id of the last event received: output held after it is sent again, then every result.',
    }),
  ),
});
