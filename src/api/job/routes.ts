// The jobs API (job:read to read, job:write to change): every operation is a
// job, and these routes create, list, inspect, delete and retry them without
// waiting for agents. Status comes from src/job/status.ts alone.
import type { JetStreamManager } from '@nats-io/jetstream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { policyRefusal } from '../../auth/command-policy.js';
import { formatDuration } from '../../config/duration.js';
import {
  CreateJobBody,
  JobCreated,
  JobDetail,
  JobIdParams,
  JobList,
  JobListQuery,
  JobStats,
  RetryJobBody,
} from '../../contract/job.js';
import {
  OPERATIONS,
  type OperationDeclaration,
  type OperationInput,
  type OperationType,
  operationData,
  operationPermission,
} from '../../contract/operations.js';
import type { RolloutRequest } from '../../contract/rollout.js';
import { rolloutOf } from '../../contract/rollout.js';
import { operationInputProblems, withFactRefs } from '../../job/data-checks.js';
import type { JobEntry, JobsView } from '../../job/jobs-view.js';
import type { JobRecord, JobResponse } from '../../job/records.js';
import type { RegistryView } from '../../job/registry-view.js';
import { answersJob, expectedHostsOf, timelineOf } from '../../job/status.js';
import {
  appendStatus,
  deleteJob,
  type JobStore,
  jobRevision,
  markCancelled,
  readJob,
  readResponses,
} from '../../job/store.js';
import { API_EVENT_HOST, cancelSubject } from '../../names/names.js';
import type { AuthUser } from '../auth.js';
import { ApiError } from '../errors.js';
import { withObjectDigest } from '../files/object-digest.js';
import type { FileRouteDeps } from '../files/routes.js';
import { REPLAYED_HEADER } from '../idempotency.js';
import {
  type JobOutcome,
  type JobService,
  type JobSubmission,
  type Operation,
  storedOperation,
  targetOf,
} from '../job-service.js';
import { findJob } from './find.js';
import { type JobStreamDeps, registerJobStreamRoute } from './stream.js';

export interface JobRouteDeps extends JobStreamDeps {
  store: JobStore;
  registry: RegistryView;
  jobs: JobsView;
  jsm: JetStreamManager;
  dlqStream: string;
  startWithinMs: number;
  /** Told of each cancel, so work this process still has to start for the job stops too. */
  onCancel?: (jobId: string) => void;
}

/**
 * How long a cancel waits for the hosts running the job to report, so the
 * answer shows them `cancelled` with their partial output: the agents' kill
 * grace (TERM, then KILL after 2 s) plus the time to store the result.
 */
const CANCEL_WAIT_MS = 5000;

/**
 * Validates an operation's data as its route validates its request, and
 * types it: defaults applied, and for a change its rate control taken apart.
 */
function operationOf(
  type: OperationType,
  input: unknown,
): { operation: Operation; rollout?: RolloutRequest } {
  const problems = withFactRefs(type, operationInputProblems(type, input), input);
  if (problems.length > 0) {
    const fields = problems.map((p) => ({
      field: ['operation.data', p.field].filter(Boolean).join('.'),
      message: p.message,
    }));
    throw new ApiError(
      'invalid_request',
      `invalid body: ${fields.map((d) => `${d.field} ${d.message}`).join('; ')}`,
      { fields },
    );
  }
  const valid = input as OperationInput<typeof type>;
  const rollout =
    OPERATIONS[type].kind === 'modify' ? rolloutOf(valid as RolloutRequest) : undefined;
  return {
    operation: { type, data: operationData(type, valid) },
    ...(rollout ? { rollout } : {}),
  };
}

/**
 * Why `user` could not have started this job, or null when it could: the
 * permission its operation needs and, for a command, the command policy of
 * the token's roles, checked on the command as stored (as the agent checks
 * it). Cancelling is stopping what runs, so a token may cancel only what it
 * may run: a role limited to `systemctl status *` stops no one's upgrade.
 */
export function whyCouldNotStart(user: AuthUser | undefined, record: JobRecord): string | null {
  const { type, data } = record.operation;
  const needed = operationPermission(type);
  if (!user?.permissions.includes(needed)) {
    return `its ${type} operation needs the permission ${needed}, which the token of ${user?.subject ?? 'nobody'} does not grant`;
  }
  // Whole, as validated when the job was made: every field the policy reads (args, user, env...).
  return policyRefusal(user.commandPolicy, type, data);
}

/** What a job's detail shows in place of a password's hash. */
export const HIDDEN_PASSWORD_HASH = '(hidden: the SHA-512 crypt hash of the password)';

/**
 * The operation as a job's detail shows it: a password's hash (user.create,
 * user.password.set) is left out, since a token that may read jobs (a read
 * token may) should not get what /etc/shadow keeps from all but root. The
 * stored record keeps it: the agents need it, and its signature covers it.
 */
function shownOperation(op: JobRecord['operation']): JobRecord['operation'] {
  const data = op.data as Record<string, unknown> | null;
  if (data === null || typeof data !== 'object' || !('password_hash' in data)) return op;
  return { ...op, data: { ...data, password_hash: HIDDEN_PASSWORD_HASH } };
}

export async function jobDetail(
  deps: JobRouteDeps,
  entry: JobEntry,
  responses?: JobResponse[],
): Promise<JobDetail> {
  const { record } = entry;
  const derived = deps.jobs.derive(entry);
  // The hosts whose results can count (a one-host job's host, a broadcast's
  // list) and those the view knows to have ended: a few are read one by one,
  // a direct get each, where reading them all at once takes a consumer made
  // and deleted for the job (store.ts readResponses), three round trips.
  const answers = (
    responses ??
    (await readResponses(deps.store, record.id, () => [
      ...expectedHostsOf(record),
      ...entry.answers.keys(),
      ...entry.events.map((e) => e.hostname),
    ]))
  ).filter((r) => answersJob(record, r.hostname));
  const single =
    answers.length === 1 && (record.target_hostname === '_any' || !record.expected_hosts);
  const errors = Object.entries(derived.hosts)
    .filter(([, h]) => h.error)
    .map(([host, h]) => `${host}: ${h.error}`);
  return {
    id: record.id,
    status: derived.status,
    created: record.created,
    updated_at: derived.updatedAt,
    hostname: single && answers[0] ? answers[0].hostname : record.target_hostname,
    operation: shownOperation(record.operation),
    result: single && answers[0] ? answers[0].data : null,
    ...(errors.length > 0 ? { error: errors.join('; ') } : {}),
    created_by: record.created_by,
    target_hostname: record.target_hostname,
    responses: Object.fromEntries(
      answers.map((r) => [
        r.hostname,
        {
          status: r.status,
          data: r.data,
          ...(r.error !== undefined ? { error: r.error } : {}),
          hostname: r.hostname,
          ...(r.state !== undefined ? { state: r.state } : {}),
        },
      ]),
    ),
    agent_states: Object.fromEntries(
      Object.entries(derived.hosts).map(([host, h]) => [
        host,
        {
          status: h.status,
          ...(h.error !== undefined ? { error: h.error } : {}),
          ...(h.durationMs !== undefined ? { duration: formatDuration(h.durationMs) } : {}),
        },
      ]),
    ),
    timeline: timelineOf(record, entry.events).map((e) => ({
      timestamp: e.timestamp,
      event: e.event,
      hostname: e.hostname,
      ...(e.message !== undefined ? { message: e.message } : {}),
      ...(e.error !== undefined ? { error: e.error } : {}),
    })),
  };
}

/** GET /job: newest first, optionally only those of one status, a page of them. */
export async function listJobs(
  deps: JobRouteDeps,
  q: { status?: JobDetail['status']; limit: number; offset: number },
): Promise<JobList> {
  let all = deps.jobs.list();
  if (q.status !== undefined) all = all.filter((e) => deps.jobs.statusOf(e) === q.status);
  const page = all.slice(q.offset, q.offset + q.limit);
  return {
    total_items: all.length,
    items: await Promise.all(page.map((e) => jobDetail(deps, e))),
  };
}

/** GET /job/status: counts by status and by operation, and the dead letters. */
export async function jobStats(deps: JobRouteDeps): Promise<JobStats> {
  const status_counts: Record<string, number> = {};
  const operation_counts: Record<string, number> = {};
  const all = deps.jobs.list();
  for (const e of all) {
    const s = deps.jobs.statusOf(e);
    status_counts[s] = (status_counts[s] ?? 0) + 1;
    const op = e.record.operation.type;
    operation_counts[op] = (operation_counts[op] ?? 0) + 1;
  }
  const dlq = await deps.jsm.streams.info(deps.dlqStream).catch(() => null);
  return {
    total_jobs: all.length,
    status_counts,
    operation_counts,
    dlq_count: dlq?.state.messages ?? 0,
  };
}

/**
 * Stops a job: the cancelled marker first (an agent that gets the job from
 * now on reads it and runs nothing), then the message for agents running it
 * now; answers the job once they reported, or after CANCEL_WAIT_MS.
 */
export async function cancelJob(
  deps: JobRouteDeps,
  user: AuthUser | undefined,
  entry: JobEntry,
): Promise<JobDetail> {
  const id = entry.record.id;
  const refusal = whyCouldNotStart(user, entry.record);
  if (refusal) {
    throw new ApiError(
      'forbidden',
      `job ${id} may not be cancelled with this token: a token may cancel only jobs it could have started, and ${refusal}`,
      { job_id: id },
    );
  }
  const before = deps.jobs.derive(entry);
  if (before.final) {
    throw new ApiError(
      'job_finished',
      `job ${id} already ended (${before.status}); there is nothing left to cancel`,
    );
  }
  const who = user?.subject ?? 'unknown';
  if (await markCancelled(deps.store, id, who)) {
    await appendStatus(deps.store, id, 'cancelled', API_EVENT_HOST, {
      message: `cancelled by ${who}`,
    });
  }
  deps.store.nc.publish(cancelSubject(deps.store.names, id));
  deps.onCancel?.(id);
  const after = await deps.jobs.waitFor(id, (d) => d.cancelled && d.final, CANCEL_WAIT_MS);
  return jobDetail(deps, after ?? entry);
}

/**
 * A job made for POST /job or retry, as they answer it: the new job, or the
 * one the request's Idempotency-Key had made (`replayed`; nothing was made).
 */
export async function recordedJob(
  deps: JobRouteDeps,
  outcome: JobOutcome,
): Promise<{ created: JobCreated; replayed: boolean }> {
  if (outcome.kind === 'replayed') {
    const { record } = outcome;
    const created: JobCreated = {
      job_id: record.id,
      status: 'submitted',
      revision: await jobRevision(deps.store, record.id),
      timestamp: record.created,
    };
    return { created, replayed: true };
  }
  if (outcome.kind !== 'submitted') throw new Error('a record submission waited for answers');
  const created: JobCreated = {
    job_id: outcome.job.jobId,
    status: 'submitted',
    revision: outcome.job.revision,
    timestamp: outcome.job.created,
  };
  return { created, replayed: false };
}

export function registerJobRoutes(
  app: FastifyInstance,
  deps: JobRouteDeps,
  jobService: JobService,
  files: FileRouteDeps,
): void {
  /**
   * Makes the job through the job service and answers 201, or, when the
   * request's Idempotency-Key already made a job, answers with that job
   * (header Idempotent-Replayed) and makes nothing.
   */
  const make = async (
    req: FastifyRequest,
    reply: FastifyReply,
    submission: Omit<JobSubmission, 'user' | 'mode' | 'idempotencyFrom' | 'targetField'>,
    afterCreated?: (created: JobCreated) => Promise<void>,
  ) => {
    const outcome = await jobService.submit({
      ...submission,
      targetField: 'target_hostname',
      user: req.user,
      mode: 'record',
      idempotencyFrom: req,
    });
    const { created, replayed } = await recordedJob(deps, outcome);
    if (replayed) reply.header(REPLAYED_HEADER, 'true');
    else await afterCreated?.(created);
    return reply.code(201).send(created);
  };

  app.post<{ Body: CreateJobBody }>(
    '/job',
    {
      config: { permission: 'job:write' },
      schema: {
        summary: 'Submit any operation as a job',
        body: CreateJobBody,
        response: { 201: JobCreated },
      },
    },
    async (req, reply) => {
      const raw = req.body.operation;
      // Checked here first so that a bad target is named before a bad body, as ever.
      targetOf(req.body.target_hostname, 'target_hostname');
      const { operation, rollout } = operationOf(raw.type, raw.data);
      const decl: OperationDeclaration = OPERATIONS[raw.type];
      operation.data = await withObjectDigest(
        decl,
        operation.data,
        files,
        `operation.data.${decl.object}`,
      );
      return make(req, reply, {
        operation,
        target: req.body.target_hostname,
        ...(rollout ? { rollout } : {}),
        inputInBody: ['operation', 'data'],
      });
    },
  );

  app.get<{ Querystring: { status?: JobDetail['status']; limit: number; offset: number } }>(
    '/job',
    {
      config: { permission: 'job:read' },
      schema: {
        summary: 'List jobs, newest first',
        querystring: JobListQuery,
        response: { 200: JobList },
      },
    },
    async (req) => listJobs(deps, req.query),
  );

  app.get(
    '/job/status',
    {
      config: { permission: 'job:read' },
      schema: { summary: 'Counts by status and operation', response: { 200: JobStats } },
    },
    async () => jobStats(deps),
  );

  app.get<{ Params: { id: string } }>(
    '/job/:id',
    {
      config: { permission: 'job:read' },
      schema: {
        summary: 'One job: hosts, results, timeline',
        params: JobIdParams,
        response: { 200: JobDetail },
      },
    },
    async (req) => jobDetail(deps, await findJob(deps, req.params.id)),
  );

  registerJobStreamRoute(app, deps);

  app.delete<{ Params: { id: string } }>(
    '/job/:id',
    {
      config: { permission: 'job:write' },
      schema: { summary: "Remove a job's record", params: JobIdParams },
    },
    async (req, reply) => {
      // The record goes; the audit entry stays, and says whose hosts the job was for.
      const record =
        deps.jobs.get(req.params.id)?.record ?? (await readJob(deps.store, req.params.id));
      if (record) req.auditTarget = record.target_hostname;
      if (!(await deleteJob(deps.store, req.params.id))) {
        throw new ApiError('not_found', `no job ${req.params.id}`);
      }
      deps.jobs.forget(req.params.id);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { id: string } }>(
    '/job/:id/cancel',
    {
      // Stopping commands is part of running them: the same permission.
      config: { permission: 'command:execute' },
      schema: {
        summary: 'Cancel a job on every host still running it',
        params: JobIdParams,
        response: { 200: JobDetail },
      },
    },
    async (req) => {
      const entry = await findJob(deps, req.params.id);
      req.auditTarget = entry.record.target_hostname;
      return cancelJob(deps, req.user, entry);
    },
  );

  app.post<{ Params: { id: string }; Body: { target_hostname?: string } | undefined }>(
    '/job/:id/retry',
    {
      config: { permission: 'job:write' },
      schema: {
        summary: 'Submit a job again',
        params: JobIdParams,
        body: RetryJobBody,
        response: { 201: JobCreated },
      },
      // The body is optional: no body means "the same target again".
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req, reply) => {
      const old = (await findJob(deps, req.params.id)).record;
      const raw = req.body?.target_hostname ?? old.target_hostname;
      // The stored data was validated when the job was made; it is reused as is.
      return make(req, reply, { operation: storedOperation(old), target: raw }, async (created) => {
        await appendStatus(deps.store, old.id, 'retried', API_EVENT_HOST, {
          message: `retried as job ${created.job_id} for ${raw}`,
        });
      });
    },
  );
}
