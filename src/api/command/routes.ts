// POST /node/{hostname}/command/exec and /command/shell (permission
// command:execute). The API never runs the command: it publishes a job and
// returns one result per agent that answered, plus the agents that did not;
// with `?async=true` it returns the job id at once and GET /job/{id} has the rest.
import type { FastifyInstance } from 'fastify';
import { Compile } from 'typebox/compile';
import { type CommandPolicy, checkCommandJob } from '../../auth/command-policy.js';
import { noAnswerResult } from '../../contract/no-answer.js';
import { newTimeOrderedId } from '../../job/ids.js';
import {
  type CommandJobData,
  commandJobData,
  type ExecRequest,
  type OperationType,
  rolloutOf,
  type ShellRequest,
} from '../../job/operations.js';
import { CommandResult, finalStateOf } from '../../job/records.js';
import { parseTarget, TargetError } from '../../job/target.js';
import {
  type DispatchDeps,
  type DispatchResult,
  dispatchJob,
  expectedHostsOf,
  replayJob,
  submitJob,
} from '../dispatch.js';
import { ApiError } from '../errors.js';
import {
  idempotencyOf,
  REPLAYED_HEADER,
  releaseIdempotencyKey,
  reserveIdempotencyKey,
} from '../idempotency.js';
import {
  CommandQuery,
  type CommandResponse,
  CommandResponse as CommandResponseSchema,
  ExecRequest as ExecSchema,
  ShellRequest as ShellSchema,
  TargetParams,
} from './schemas.js';

export function registerCommandRoutes(app: FastifyInstance, deps: DispatchDeps): void {
  const route = (path: string, type: OperationType, body: typeof ExecSchema | typeof ShellSchema) =>
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
        let target: ReturnType<typeof parseTarget>;
        try {
          target = parseTarget(req.params.hostname);
        } catch (err) {
          if (err instanceof TargetError) throw new ApiError('invalid_target', err.message);
          throw err;
        }
        const data = commandJobData(req.body);
        const policy = req.user?.commandPolicy ?? null;
        enforceCommandPolicy(policy, type, data);
        const createdBy = req.user?.subject ?? 'unknown';
        const isAsync = req.query.async === true;
        const jobId = newTimeOrderedId(deps.clock.now().getTime());
        const idem = idempotencyOf(req, createdBy);
        if (idem) {
          const reserved = await reserveIdempotencyKey(deps.store, idem, jobId);
          if (reserved.kind === 'replay') {
            // The first request's job answers; nothing runs again.
            reply.header(REPLAYED_HEADER, 'true');
            const { record, result } = await replayJob(
              deps,
              reserved.jobId,
              isAsync ? 0 : data.timeout * 1000 + deps.marginMs,
            );
            if (isAsync) {
              return reply.code(202).send({
                job_id: record.id,
                results: [],
                expected_hosts: expectedHostsOf(record),
              });
            }
            return reply.code(202).send(answerOrThrow(result, data));
          }
        }
        const dispatch = {
          type,
          data,
          target,
          createdBy,
          commandPolicy: policy,
          timeoutMs: data.timeout * 1000,
          rollout: rolloutOf(req.body),
          jobId,
        };
        try {
          if (isAsync) {
            // Same checks and 404 as the waiting path, but no wait: the caller polls the job.
            const job = await submitJob(deps, dispatch);
            return reply
              .code(202)
              .send({ job_id: job.jobId, results: [], expected_hosts: job.expectedHosts });
          }
          const result = await dispatchJob(deps, dispatch);
          return reply.code(202).send(answerOrThrow(result, data));
        } catch (err) {
          // Refused before anything was published: the key is free for a corrected request.
          if (idem && err instanceof ApiError && err.reason !== 'no_agent_answered') {
            await releaseIdempotencyKey(deps.store, idem);
          }
          throw err;
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

/** 403 naming the rule when the token's roles may not run this command. */
export function enforceCommandPolicy(
  policy: CommandPolicy,
  type: OperationType,
  data: CommandJobData,
): void {
  const mode = type === 'command.exec.execute' ? 'exec' : 'shell';
  const refusal = checkCommandJob(policy, mode, data);
  if (refusal) throw new ApiError('forbidden', refusal, { command_policy: policy });
}
