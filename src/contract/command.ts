// Wire schemas of the command routes: the request bodies come from the job
// operations (one definition for API and agent); the response is
// `{job_id, results: [...]}`.
import { type Static, Type } from 'typebox';
import { HOST_STATES } from './states.js';

export { ExecRequest, ShellRequest } from './operations.js';

export const TargetParams = Type.Object({
  hostname: Type.String({
    description: 'Target: _any, _all, a hostname, or a label key:value (e.g. group:web.dev).',
  }),
});

/** Unknown query parameters are refused, like unknown body fields. */
export const CommandQuery = Type.Object(
  {
    async: Type.Optional(
      Type.Boolean({
        description:
          'true: answer 202 with the job id at once, without waiting for agents; read the results with GET /job/{id}.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CommandQuery = Static<typeof CommandQuery>;

export const CommandResultItem = Type.Object({
  hostname: Type.String(),
  stdout: Type.String(),
  stderr: Type.String(),
  exit_code: Type.Integer(),
  duration_ms: Type.Integer(),
  changed: Type.Boolean(),
  error: Type.Optional(Type.String()),
  /** Ours: the agent's view of how the run ended, and whether a stream was capped. */
  status: Type.Union([
    Type.Literal('completed'),
    Type.Literal('failed'),
    Type.Literal('no_answer'),
  ]),
  /** Ours: the host's state as GET /job/{id} shows it (succeeded, failed, timed_out, ...). */
  state: Type.Enum(HOST_STATES),
  stdout_truncated: Type.Boolean(),
  stderr_truncated: Type.Boolean(),
});
export type CommandResultItem = Static<typeof CommandResultItem>;

export const CommandResponse = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  results: Type.Array(CommandResultItem),
  /**
   * Ours, only with `?async=true` (where `results` is empty): the agents the
   * job went to, so a client knows whose answers to wait for in GET /job/{id}.
   */
  expected_hosts: Type.Optional(
    Type.Array(Type.String(), {
      description:
        'Only with ?async=true: the agents the job went to (empty for _any: whichever agent takes it).',
    }),
  ),
});
export type CommandResponse = Static<typeof CommandResponse>;
