// Wire schemas of the command routes: the request bodies come from the job
// operations (one definition for API and agent); the response is INTERFACE
// section 5's `{job_id, results: [...]}`.
import { type Static, Type } from 'typebox';

export { ExecRequest, ShellRequest } from '../../job/operations.js';

export const TargetParams = Type.Object({
  hostname: Type.String({
    description: 'Target: _any, _all, a hostname, or a label key:value (e.g. group:web.dev).',
  }),
});

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
  stdout_truncated: Type.Boolean(),
  stderr_truncated: Type.Boolean(),
});
export type CommandResultItem = Static<typeof CommandResultItem>;

export const CommandResponse = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  results: Type.Array(CommandResultItem),
});
export type CommandResponse = Static<typeof CommandResponse>;
