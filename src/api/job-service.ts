// The job service: the one way a job is made. Every route that submits a job
// (the command routes, the node routes, POST /job and its retry) hands it the
// operation and the raw target, and it
//   1. parses the target into a typed value (a bad one is `invalid_target`);
//   2. checks the operation's permission and, for a command, the command
//      policy of the token's roles;
//   3. reserves the request's Idempotency-Key, or replays the job it made;
//   4. plans who the job goes to (one host, `_any`, a broadcast, a rollout);
//   5. publishes it, signed;
//   6. waits for the agents' answers, or returns at once.
// The routes only validate their bodies and shape their answers.
import { trace } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import { isPolicedOperation, policyRefusal } from '../auth/command-policy.js';
import { CommandJobData, commandModeOf } from '../contract/command.js';
import { type OperationType, operationTimeoutS, secretFields } from '../contract/operations.js';
import type { RolloutRequest } from '../contract/rollout.js';
import { operationDataProblems, withFactRefs } from '../job/data-checks.js';
import { newTimeOrderedId } from '../job/ids.js';
import type { JobRecord } from '../job/records.js';
import { validatorOf } from '../job/schema-check.js';
import { readJob } from '../job/store.js';
import { isBroadcast, parseTarget, type Target, TargetError } from '../job/target.js';
import { ATTR } from '../trace/tracing.js';
import type { AuthUser } from './auth.js';
import {
  type DispatchDeps,
  type DispatchRequest,
  type DispatchResult,
  plan,
  publish,
  replayJob,
  type SubmittedJob,
  waitForAnswers,
} from './dispatch.js';
import { ApiError } from './errors.js';
import {
  type IdempotencyRequest,
  idempotencyOf,
  releaseIdempotencyKey,
  reserveIdempotencyKey,
  secretDigestKey,
} from './idempotency.js';
import { requireOperationPermission } from './job/operation-permissions.js';

/** An operation with its validated data. */
export interface Operation {
  type: OperationType;
  data: unknown;
}

/**
 * A command operation's data checked as a command (it was validated when
 * the job was made; a stored one is checked again before it is trusted).
 */
function requireCommandData(op: Operation): void {
  if (commandModeOf(op.type) && !validatorOf(CommandJobData).Check(op.data)) {
    throw new ApiError(
      'invalid_request',
      `this ${op.type} operation's data is not a valid command; it cannot be run`,
    );
  }
}

/** The operation of a stored job (a retry), its data checked again before it is trusted. */
export function storedOperation(record: JobRecord): Operation {
  const op = { type: record.operation.type, data: record.operation.data };
  const problems = withFactRefs(op.type, operationDataProblems(op.type, op.data), op.data);
  if (problems.length > 0) {
    throw new ApiError(
      'invalid_request',
      `job ${record.id} holds a ${op.type} operation whose data is not valid (${problems.map((p) => `${p.field} ${p.message}`).join('; ')}); it cannot be made again`,
    );
  }
  return op;
}

/** How long an agent may take: the operation's declared timeout, or its data's own. */
export function timeoutMsOf(op: Operation): number {
  return operationTimeoutS(op.type, op.data) * 1000;
}

/** The target, typed; `field` names where it came from in the message (`target_hostname`). */
export function targetOf(raw: string, field?: string): Target {
  try {
    return parseTarget(raw);
  } catch (err) {
    if (err instanceof TargetError) {
      throw new ApiError('invalid_target', field ? `${field}: ${err.message}` : err.message);
    }
    throw err;
  }
}

/**
 * Everything a job must pass before anything is stored, a replay included:
 * the permission its operation needs (403 `missing_permission`) and, for a
 * command, the command policy of the token's roles (403 naming the rule).
 */
export function checkJob(user: AuthUser | undefined, op: Operation): void {
  requireOperationPermission(user, op.type);
  // A command's data is checked as a command first: a 400 says what is wrong with it.
  requireCommandData(op);
  const policy = user?.commandPolicy ?? null;
  const refusal = policyRefusal(policy, op.type, op.data);
  if (refusal) throw new ApiError('forbidden', refusal, { command_policy: policy });
}

/**
 * - `wait`: publish, then wait for the answers (404 when no Ready agent matches).
 * - `async`: the same checks and 404, but answer as soon as the job is published.
 * - `record` (POST /job, retry): publish and answer at once; without rate
 *   control the job is recorded even when no Ready agent matches now.
 */
export type SubmitMode = 'wait' | 'async' | 'record';

export interface JobSubmission {
  operation: Operation;
  /** The target as the client wrote it. */
  target: string;
  /** Where the target came from, to prefix a parse error's message (`target_hostname`). */
  targetField?: string;
  user: AuthUser | undefined;
  mode: SubmitMode;
  /** Rate control for a broadcast; ignored for `_any` and a hostname. */
  rollout?: RolloutRequest;
  /** The request whose Idempotency-Key is honoured; none: the route takes no key. */
  idempotencyFrom?: FastifyRequest;
  /**
   * Where that request's body holds the operation's input (`[]` on the
   * operation's route, `['operation', 'data']` for POST /job), so the
   * secrets it declares are digested for the key; absent: the body holds
   * none (a retry reuses the stored data).
   */
  inputInBody?: readonly string[];
}

export type JobOutcome =
  /** `wait`: the job was published and these are its answers. */
  | { kind: 'answered'; result: DispatchResult }
  /** `async` and `record`: the job was published; nobody waited. */
  | { kind: 'submitted'; job: SubmittedJob }
  /**
   * The Idempotency-Key had made a job already: nothing was published. In
   * `wait` mode the result is that job's answers, waited for as the first
   * request did; otherwise what it has so far.
   */
  | { kind: 'replayed'; record: JobRecord; result: DispatchResult };

export interface JobService {
  submit(s: JobSubmission): Promise<JobOutcome>;
}

export function createJobService(deps: DispatchDeps): JobService {
  return { submit: (s) => submitJob(deps, s) };
}

export async function submitJob(deps: DispatchDeps, s: JobSubmission): Promise<JobOutcome> {
  const { operation: op, user } = s;
  const target = targetOf(s.target, s.targetField);
  checkJob(user, op);
  const createdBy = user?.subject ?? 'unknown';
  const timeoutMs = timeoutMsOf(op);
  const jobId = newTimeOrderedId(deps.clock.now().getTime());
  // The request's span (tracing-hook.ts) names the job it made; nothing when tracing is off.
  trace.getActiveSpan()?.setAttributes({
    [ATTR.jobId]: jobId,
    [ATTR.operation]: op.type,
    [ATTR.target]: s.target,
  });
  const idem = s.idempotencyFrom
    ? idempotencyOf(
        s.idempotencyFrom,
        createdBy,
        s.inputInBody ? { at: s.inputInBody, fields: secretFields(op.type) } : null,
        () => secretDigestKey(deps.store.signer),
      )
    : null;
  if (idem) {
    const reserved = await reserveIdempotencyKey(deps.store, idem, jobId);
    if (reserved.kind === 'replay') {
      // The first request's job answers; nothing runs again.
      const waitMs = s.mode === 'wait' ? timeoutMs + deps.marginMs : 0;
      const { record, result } = await replayJob(deps, reserved.jobId, waitMs);
      return { kind: 'replayed', record, result };
    }
  }
  const policy = isPolicedOperation(op.type) ? user?.commandPolicy : null;
  const req: DispatchRequest = {
    type: op.type,
    data: op.data,
    target,
    createdBy,
    timeoutMs,
    // Signed into the job, so the agent checks the command again.
    ...(policy ? { commandPolicy: policy } : {}),
    ...(s.rollout ? { rollout: s.rollout } : {}),
  };
  let publishing = false;
  try {
    // POST /job records a job no Ready agent matches, unless it asks for rate control.
    const p = plan(deps, req, s.mode !== 'record' || (!!s.rollout && isBroadcast(target)));
    if (s.mode === 'wait') {
      const result = await waitForAnswers(deps, req, p, jobId, () => {
        publishing = true;
        return publish(deps, req, p, jobId);
      });
      return { kind: 'answered', result };
    }
    publishing = true;
    return { kind: 'submitted', job: await publish(deps, req, p, jobId) };
  } catch (err) {
    if (idem) await releaseUnlessMade(deps, idem, jobId, publishing);
    throw err;
  }
}

/**
 * The one rule for a reserved Idempotency-Key whose request failed: the key
 * is released when no job was made (refused, 404 no agent, or a failure
 * before the job's definition was stored), so a corrected request may use it;
 * once the job exists the key stays, and a repeat of the request replays that
 * job instead of running the operation a second time (even when the first
 * request answered an error, such as 500 `no_agent_answered`).
 */
async function releaseUnlessMade(
  deps: DispatchDeps,
  idem: IdempotencyRequest,
  jobId: string,
  publishing: boolean,
): Promise<void> {
  const made = publishing && (await readJob(deps.store, jobId).catch(() => null)) !== null;
  if (!made) await releaseIdempotencyKey(deps.store, idem);
}
