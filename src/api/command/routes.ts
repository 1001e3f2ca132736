// POST /node/{hostname}/command/exec and /command/shell (permission
// command:execute). The API never runs the command: it publishes a job and
// returns one result per agent that answered, plus the agents that did not;
// with `?async=true` it returns the job id at once and GET /job/{id} has the rest.
import type { FastifyInstance } from 'fastify';
import { Compile } from 'typebox/compile';
import { noAnswerResult } from '../../contract/no-answer.js';
import {
  type CommandJobData,
  commandJobData,
  type ExecRequest,
  rolloutOf,
  type ShellRequest,
} from '../../job/operations.js';
import { CommandResult, finalStateOf } from '../../job/records.js';
import { type DispatchResult, expectedHostsOf } from '../dispatch.js';
import { ApiError } from '../errors.js';
import { REPLAYED_HEADER } from '../idempotency.js';
import type { CommandOperationType, JobService } from '../job-service.js';
import {
  CommandQuery,
  type CommandResponse,
  CommandResponse as CommandResponseSchema,
  ExecRequest as ExecSchema,
  ShellRequest as ShellSchema,
  TargetParams,
} from './schemas.js';

export function registerCommandRoutes(app: FastifyInstance, jobs: JobService): void {
  const route = (
    path: string,
    type: CommandOperationType,
    body: typeof ExecSchema | typeof ShellSchema,
  ) =>
    app.post<{
      Params: { hostname: string };
      Querystring: CommandQuery;
      Body: ExecRequest | ShellRequest;
    }>(
      path,
      {
        config: { permission: 'command:execute' },
        schema: {
          params: TargetParams,
          querystring: CommandQuery,
          body,
          response: { 202: CommandResponseSchema },
        },
      },
      async (req, reply) => {
        const data = commandJobData(req.body);
        const isAsync = req.query.async === true;
        const outcome = await jobs.submit({
          operation: { type, data },
          target: req.params.hostname,
          user: req.user,
          mode: isAsync ? 'async' : 'wait',
          rollout: rolloutOf(req.body),
          idempotencyFrom: req,
        });
        switch (outcome.kind) {
          case 'replayed':
            reply.header(REPLAYED_HEADER, 'true');
            if (isAsync) {
              return reply.code(202).send({
                job_id: outcome.record.id,
                results: [],
                expected_hosts: expectedHostsOf(outcome.record),
              });
            }
            return reply.code(202).send(answerOrThrow(outcome.result, data));
          case 'submitted':
            // Same checks and 404 as the waiting path, but no wait: the caller polls the job.
            return reply.code(202).send({
              job_id: outcome.job.jobId,
              results: [],
              expected_hosts: outcome.job.expectedHosts,
            });
          case 'answered':
            return reply.code(202).send(answerOrThrow(outcome.result, data));
        }
      },
    );
  route('/node/:hostname/command/exec', 'command.exec.execute', ExecSchema);
  route('/node/:hostname/command/shell', 'command.shell.execute', ShellSchema);
}

/** The waiting answer, or the 500 when no agent answered at all (the job stays recorded). */
function answerOrThrow(result: DispatchResult, data: CommandJobData): CommandResponse {
  const answer = commandAnswer(result, data);
  if (answer.results.every((r) => r.status === 'no_answer') || answer.results.length === 0) {
    throw new ApiError(
      'no_agent_answered',
      `no agent answered within ${(result.waitedMs / 1000).toFixed(1)} s (the command's timeout of ${data.timeout} s plus a margin); job ${result.jobId} stays recorded`,
      { job_id: result.jobId, missing: result.missing },
    );
  }
  return answer;
}

const isCommandResult = Compile(CommandResult);

function commandAnswer(r: DispatchResult, data: CommandJobData): CommandResponse {
  const results: CommandResponse['results'] = r.responses.map((resp) => {
    // A response's data is checked against the command result schema before use.
    const data = isCommandResult.Check(resp.data) ? resp.data : null;
    return {
      hostname: resp.hostname,
      stdout: data?.stdout ?? '',
      stderr: data?.stderr ?? '',
      exit_code: data?.exit_code ?? -1,
      duration_ms: data?.duration_ms ?? 0,
      changed: data?.changed ?? false,
      ...(resp.error !== undefined ? { error: resp.error } : {}),
      status: resp.status,
      state: finalStateOf(resp),
      stdout_truncated: data?.stdout_truncated ?? false,
      stderr_truncated: data?.stderr_truncated ?? false,
    };
  });
  for (const hostname of r.missing) {
    results.push(
      noAnswerResult(
        hostname,
        `no answer from this agent within ${data.timeout} s plus a margin; it was Ready when the job was sent`,
      ),
    );
  }
  return { job_id: r.jobId, results };
}
