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
  queryFields,
} from '../../contract/operations.js';
import { rolloutOf } from '../../contract/rollout.js';
import {
  meaningProblems,
  requestDataProblems,
  secretProblems,
  withFactRefs,
} from '../../job/data-checks.js';
import { expectedHostsOf } from '../../job/status.js';
import { ApiError } from '../errors.js';
import { withObjectDigest } from '../files/object-digest.js';
import type { FileRouteDeps } from '../files/routes.js';
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

/**
 * The query string's schema: `async`, and for a read (GET) the input's fields
 * its path does not carry (`GET /node/{hostname}/log?lines=50`), or those a
 * declaration puts there (`DELETE …?force=true`).
 */
function querySchema(decl: OperationDeclaration): TObject {
  const inQuery = new Set(queryFields(decl));
  const fields = Object.entries(decl.input.properties as Record<string, TSchema>).filter(([name]) =>
    inQuery.has(name),
  );
  if (fields.length === 0) return AsyncQuery;
  return Type.Object(
    { ...AsyncQuery.properties, ...Object.fromEntries(fields) },
    { additionalProperties: false },
  );
}

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
 * The body's schema: the input without the fields its path carries
 * (`POST /node/{hostname}/service/{name}/start` takes `name` in the path
 * only).
 */
function bodySchema(decl: OperationDeclaration): TObject {
  const elsewhere = [...pathParams(decl).map(fieldOfParam), ...queryFields(decl)];
  if (elsewhere.length === 0) return decl.input;
  return Type.Omit(decl.input, elsewhere, { additionalProperties: false });
}

/** A request without a body, where the body has no required field, carries an empty one. */
async function emptyBodyWhenNone(req: FastifyRequest): Promise<void> {
  if (req.body === undefined) req.body = {};
}

type OperationRequest = FastifyRequest<{
  Params: Record<string, string>;
  Querystring: { async?: boolean };
  Body: Record<string, unknown> | undefined;
}>;

/** What the request carries: the body, with each path field beside it. */
function inputOf(decl: OperationDeclaration, req: OperationRequest): Record<string, unknown> {
  const input: Record<string, unknown> = decl.method === 'GET' ? {} : { ...(req.body ?? {}) };
  const { async: _async, ...fields } = req.query as Record<string, unknown>;
  Object.assign(input, fields);
  for (const p of pathParams(decl)) input[fieldOfParam(p)] = req.params[p];
  return input;
}

/** The job's data, or the 400 naming each field at fault (a path field by its parameter's name). */
function dataOf(type: OperationType, decl: OperationDeclaration, input: Record<string, unknown>) {
  // A password is hashed as the data is made: one the host could not take is refused first.
  const problems = secretProblems(type, input);
  if (problems.length === 0) {
    const data = operationData(type, input as never);
    // Fastify has checked a body against the schema; path fields only as strings.
    problems.push(
      ...withFactRefs(
        type,
        pathParams(decl).length > 0 ? requestDataProblems(type, data) : meaningProblems(type, data),
        data,
      ),
    );
    if (problems.length === 0) return data;
  }
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
  files: FileRouteDeps,
  type: OperationType,
  req: OperationRequest,
  reply: FastifyReply,
) {
  const decl: OperationDeclaration = OPERATIONS[type];
  const input = inputOf(decl, req);
  const data = await withObjectDigest(decl, dataOf(type, decl, input), files);
  const isAsync = req.query.async === true;
  const timeoutS = operationTimeoutS(type, data);
  const outcome = await jobs.submit({
    operation: { type, data },
    target: req.params.hostname ?? '',
    user: req.user,
    mode: isAsync ? 'async' : 'wait',
    ...(decl.kind === 'modify' ? { rollout: rolloutOf(input) } : {}),
    idempotencyFrom: req,
    inputInBody: [],
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

export function registerOperationRoutes(
  app: FastifyInstance,
  jobs: JobService,
  files: FileRouteDeps,
): void {
  for (const type of OPERATION_TYPES) {
    const decl: OperationDeclaration = OPERATIONS[type];
    const body = decl.method === 'GET' ? undefined : bodySchema(decl);
    const required = (body as { required?: readonly string[] } | undefined)?.required ?? [];
    const bodyOptional = body !== undefined && required.length === 0;
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
        querystring: querySchema(decl),
        ...(body ? { body } : {}),
        response: { [decl.status]: decl.response },
      },
      ...(bodyOptional ? { preValidation: emptyBodyWhenNone } : {}),
      handler: (req, reply) => handle(jobs, files, type, req, reply),
    });
  }
}
