// The route of every declared operation (src/contract/operations.ts), made
// from its declaration: method and path, the permission, the schemas Fastify
// validates and serialises with (and the OpenAPI document shows), and one
// handler for all. The handler turns the request into the job's data, checks
// what the schema cannot say (a 400 naming the field), hands the job to the
// job service and shapes the answer. Every operation takes `?async=true` and
// an Idempotency-Key; a change takes rate control for broadcasts. The API
// never touches a host.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type TObject, type TSchema, Type } from 'typebox';
import {
  fieldOfParam,
  OPERATION_TYPES,
  OPERATIONS,
  type OperationDeclaration,
  type OperationType,
  operationData,
  operationTimeoutS,
  pathParams,
} from '../../contract/operations.js';
import { rolloutOf } from '../../contract/rollout.js';
import { meaningProblems, operationDataProblems, withFactRefs } from '../../job/data-checks.js';
import { expectedHostsOf } from '../dispatch.js';
import { ApiError } from '../errors.js';
import { REPLAYED_HEADER } from '../idempotency.js';
import type { JobService } from '../job-service.js';
import { operationAnswer } from './answers.js';

const TARGET = Type.String({
  description: 'Target: _any, _all, a hostname, or a label key:value (e.g. group:web.dev).',
});

/** Unknown query parameters are refused, like unknown body fields. */
const AsyncQuery = Type.Object(
  {
    async: Type.Optional(
      Type.Boolean({
        description:
          'true: answer at once with the job id and `expected_hosts`, without waiting for agents; read the results with GET /job/{id}.',
      }),
    ),
  },
  { additionalProperties: false },
);

/** `{name}` → `:name`, as Fastify writes a path parameter. */
export function fastifyPath(path: string): string {
  return path.replace(/\{([A-Za-z]+)\}/g, ':$1');
}

/**
 * The path's schema: the target, and each other parameter as a plain string
 * (its input field's own rules are checked by the handler, so a 400 says
 * what is expected rather than a pattern).
 */
function paramsSchema(decl: OperationDeclaration): TObject {
  const props: Record<string, TSchema> = { hostname: TARGET };
  for (const p of pathParams(decl)) {
    const field = (decl.input.properties as Record<string, TSchema>)[fieldOfParam(p)];
    const description = (field as { description?: string } | undefined)?.description;
    props[p] = Type.String({ description: description ?? p });
  }
  return Type.Object(props);
}

/**
 * The body's schema: the input without its path fields (those come from the
 * path, and a body naming one is refused as an unknown field).
 */
function bodySchema(decl: OperationDeclaration): TObject {
  const inPath = new Set(pathParams(decl).map(fieldOfParam));
  if (inPath.size === 0) return decl.input;
  const props = Object.fromEntries(
    Object.entries(decl.input.properties as Record<string, TSchema>).filter(
      ([k]) => !inPath.has(k),
    ),
  );
  const { additionalProperties, description } = decl.input as {
    additionalProperties?: boolean;
    description?: string;
  };
  return Type.Object(props, {
    ...(additionalProperties !== undefined ? { additionalProperties } : {}),
    ...(description !== undefined ? { description } : {}),
  });
}

/** Whether a request may leave its body out: every field of it is optional (a DELETE's rate control). */
function bodyMayBeAbsent(body: TObject): boolean {
  return ((body as { required?: string[] }).required ?? []).length === 0;
}

type OperationRequest = FastifyRequest<{
  Params: Record<string, string>;
  Querystring: { async?: boolean };
  Body: Record<string, unknown> | undefined;
}>;

/** What the request carries: the body, with each path field beside it. */
function inputOf(decl: OperationDeclaration, req: OperationRequest): Record<string, unknown> {
  const input: Record<string, unknown> = decl.method === 'GET' ? {} : { ...(req.body ?? {}) };
  for (const p of pathParams(decl)) input[fieldOfParam(p)] = req.params[p];
  return input;
}

/** The job's data, or the 400 naming each field at fault (a path field by its parameter's name). */
function dataOf(type: OperationType, decl: OperationDeclaration, input: Record<string, unknown>) {
  const data = operationData(type, input as never);
  // Fastify has checked a body against the schema; path fields only as strings.
  const problems = withFactRefs(
    pathParams(decl).length > 0 ? operationDataProblems(type, data) : meaningProblems(type, data),
    data,
  );
  if (problems.length === 0) return data;
  const byField = new Map(pathParams(decl).map((p) => [fieldOfParam(p), p]));
  const fields = problems.map((p) => ({
    field: byField.get(p.field) ?? (p.field || 'body'),
    message: p.message,
  }));
  const params = new Set(byField.values());
  const where = fields.every((f) => params.has(f.field)) ? 'params' : 'body';
  throw new ApiError(
    'invalid_request',
    `invalid ${where}: ${fields.map((d) => `${d.field} ${d.message}`).join('; ')}`,
    { fields },
  );
}

async function handle(
  jobs: JobService,
  type: OperationType,
  req: OperationRequest,
  reply: FastifyReply,
) {
  const decl: OperationDeclaration = OPERATIONS[type];
  const input = inputOf(decl, req);
  const data = dataOf(type, decl, input);
  const isAsync = req.query.async === true;
  const timeoutS = operationTimeoutS(type, data);
  const outcome = await jobs.submit({
    operation: { type, data },
    target: req.params.hostname ?? '',
    user: req.user,
    mode: isAsync ? 'async' : 'wait',
    ...(decl.kind === 'modify' ? { rollout: rolloutOf(input) } : {}),
    idempotencyFrom: req,
  });
  reply.code(decl.status);
  switch (outcome.kind) {
    case 'replayed':
      reply.header(REPLAYED_HEADER, 'true');
      if (isAsync) {
        return {
          job_id: outcome.record.id,
          results: [],
          expected_hosts: expectedHostsOf(outcome.record),
        };
      }
      return operationAnswer(type, outcome.result, timeoutS);
    case 'submitted':
      // The same checks and 404 as the waiting path, but no wait: the caller polls the job.
      return { job_id: outcome.job.jobId, results: [], expected_hosts: outcome.job.expectedHosts };
    case 'answered':
      return operationAnswer(type, outcome.result, timeoutS);
  }
}

export function registerOperationRoutes(app: FastifyInstance, jobs: JobService): void {
  for (const type of OPERATION_TYPES) {
    const decl: OperationDeclaration = OPERATIONS[type];
    const body = decl.method === 'GET' ? null : bodySchema(decl);
    app.route<{
      Params: Record<string, string>;
      Querystring: { async?: boolean };
      Body: Record<string, unknown> | undefined;
    }>({
      method: decl.method,
      url: fastifyPath(decl.path),
      config: { permission: decl.permission },
      schema: {
        summary: decl.summary,
        description: `Operation \`${type}\` (${decl.kind === 'modify' ? 'changes the host' : 'reads the host'}).`,
        operationId: decl.sdk,
        params: paramsSchema(decl),
        querystring: AsyncQuery,
        ...(body ? { body } : {}),
        response: { [decl.status]: decl.response },
      },
      // `DELETE /node/h/user/alice` with no body at all is `{}`, not a body missing.
      ...(body && bodyMayBeAbsent(body)
        ? {
            preValidation: async (req: OperationRequest) => {
              req.body ??= {};
            },
          }
        : {}),
      handler: (req, reply) => handle(jobs, type, req, reply),
    });
  }
}
