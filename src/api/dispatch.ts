// The API side of a job round trip: work out which agents a target should
// reach, publish the job, and wait until every one of them has answered (or
// the first one, for `_any` and a host), never a fixed quiet period. At the
// deadline it answers with what it has and names the agents that did not.
// The job service (job-service.ts) puts these steps together for every route
// that makes a job.

import { trace } from '@opentelemetry/api';
import type { CommandPolicy } from '../auth/command-policy.js';
import type { OperationType } from '../contract/operations.js';
import type { RolloutRequest } from '../contract/rollout.js';
import type { AgentStateView } from '../job/agent-state-view.js';
import type { Clock } from '../job/clock.js';
import type { FactsView } from '../job/facts-view.js';
import type { JobEntry, JobsView } from '../job/jobs-view.js';
import type { JobRecord, JobResponse } from '../job/records.js';
import type { AgentView, RegistryView } from '../job/registry-view.js';
import type { ResponseWatch } from '../job/response-watch.js';
import { RolloutError, type RolloutLimits, resolveRollout } from '../job/rollout.js';
import { answersJob } from '../job/status.js';
import {
  claimJob,
  type JobStore,
  publishJob,
  readJobWithHosts,
  readResponses,
  recordNotRun,
} from '../job/store.js';
import { formatTarget, isBroadcast, type Target } from '../job/target.js';
import { API_EVENT_HOST } from '../names/names.js';
import { ATTR, SPAN, traced } from '../trace/tracing.js';
import { waitAtMost } from '../wait-at-most.js';
import { ApiError } from './errors.js';
import type { Rollouts } from './rollout.js';
import { reachedBy } from './targeting.js';

export interface DispatchDeps {
  store: JobStore;
  registry: RegistryView;
  responses: ResponseWatch;
  clock: Clock;
  /** Added to the operation's own timeout before giving up on agents. */
  marginMs: number;
  /** How long after creation an agent that was away may still start the job. */
  startWithinMs: number;
  /** Drives rate-controlled broadcasts (max_concurrency / max_errors). */
  rollouts: Rollouts;
  /** Every job and its status events, for answering a replayed request from the first one's job. */
  jobs: JobsView;
  /** Drained agents: `_any` never picks them; other targets record them skipped, unsent. */
  states: AgentStateView;
  /** Every agent's facts, for a fact comparison target (targeting.ts). */
  facts: FactsView;
  /** Told of every round trip once it ends, for metrics; dispatch itself knows no metrics library. */
  onRoundTrip?: (rt: RoundTrip) => void;
}

export interface RoundTrip {
  type: OperationType;
  /** From just before the job was published to the last expected answer or the deadline. */
  ms: number;
  /** Every expected agent answered (for `_any` and a host: one did). */
  complete: boolean;
}

export interface DispatchRequest {
  type: OperationType;
  data: unknown;
  target: Target;
  createdBy: string;
  timeoutMs: number;
  /** Signed into the job, so the agent checks the command again. */
  commandPolicy?: CommandPolicy;
  /** Rate control for a broadcast; ignored for `_any` and a hostname (one host runs it anyway). */
  rollout?: RolloutRequest;
}

export interface DispatchResult {
  jobId: string;
  responses: JobResponse[];
  /** Agents expected to answer that did not, in hostname order. */
  missing: string[];
  waitedMs: number;
  /** The API lost its follow of results during the wait: a missing answer may have been lost to NATS. */
  natsInterrupted?: boolean;
}

/** Who a job for this target goes to, worked out once for both the waiting and the async path. */
export interface Plan {
  /** `_any` and a hostname: the first answer completes the job. */
  single: boolean;
  /** Broadcasts only: every agent expected to answer, stored in the job record. */
  expected: string[];
  /** Hostnames of the Ready agents the target matched. */
  matching: string[];
  /** Of those, the drained ones: recorded `skipped` before the job goes out, never run. */
  drained: string[];
  /** A rate-controlled broadcast: its limits and how long each told host may take. */
  rollout?: { limits: RolloutLimits; perHostMs: number; waves: number };
}

/** Time for a told host to hear of the job and start it, on top of the command's own timeout. */
const ROLLOUT_START_GRACE_MS = 5000;

/**
 * Who a job for this target goes to. Throws the 404 `no_matching_agent` when
 * no Ready agent matches and `refuseWhenNone` (the default): nothing is
 * published then. A job made through POST /job without rate control is
 * recorded even so (`refuseWhenNone: false`), expecting no host.
 */
export function plan(deps: DispatchDeps, req: DispatchRequest, refuseWhenNone = true): Plan {
  const { target } = req;
  const drainedHere = (a: AgentView) => deps.states.drained(a.info.hostname);
  // Only agents whose key is accepted are sent anything (a pending one takes nothing).
  const found = reachedBy(deps, target).filter(
    (a) => deps.states.enrollment(a.info) === 'accepted',
  );
  // `_any` takes one agent that is not drained; a drained one is never picked.
  const matching = target.kind === 'any' ? found.filter((a) => !drainedHere(a)) : found;
  if (matching.length === 0 && refuseWhenNone) {
    const known = deps.registry.agents();
    const ready = known.filter((a) => a.ready).length;
    const drained = found.length - matching.length;
    throw new ApiError(
      'no_matching_agent',
      `no Ready agent matches target ${formatTarget(target)} (${ready} Ready of ${known.length} registered${drained > 0 ? `, ${drained} of them drained` : ''}); nothing was run`,
      { target: formatTarget(target), agents_ready: ready, agents_registered: known.length },
    );
  }
  const single = !isBroadcast(target);
  const hostnames = matching.map((a) => a.info.hostname);
  const drained = matching.filter(drainedHere).map((a) => a.info.hostname);
  const p: Plan = { single, expected: single ? [] : hostnames, matching: hostnames, drained };
  const runnable = hostnames.filter((h) => !drained.includes(h));
  if (!single && req.rollout && runnable.length > 0) {
    let limits: RolloutLimits | null;
    try {
      limits = resolveRollout(req.rollout, runnable.length);
    } catch (err) {
      if (err instanceof RolloutError) {
        throw new ApiError('invalid_request', `invalid body: ${err.message}`, {
          fields: [{ field: err.field, message: err.problem }],
        });
      }
      throw err;
    }
    if (limits) {
      const perHostMs = req.timeoutMs + deps.marginMs + ROLLOUT_START_GRACE_MS;
      const waves = Math.ceil(runnable.length / limits.maxConcurrency);
      p.rollout = { limits, perHostMs, waves };
    }
  }
  return p;
}

/**
 * Stores, signs and announces the job as planned; a rollout's waves start
 * here. Traced as `job.publish`: the notification carries that span's context.
 */
export function publish(
  deps: DispatchDeps,
  req: DispatchRequest,
  p: Plan,
  jobId: string,
): Promise<SubmittedJob> {
  return traced(
    SPAN.publish,
    {
      [ATTR.jobId]: jobId,
      [ATTR.operation]: req.type,
      [ATTR.target]: formatTarget(req.target),
    },
    () => publishUntraced(deps, req, p, jobId),
  );
}

async function publishUntraced(
  deps: DispatchDeps,
  req: DispatchRequest,
  p: Plan,
  jobId: string,
): Promise<SubmittedJob> {
  const r = p.rollout;
  // The progress first: a job with a rollout always has progress that
  // another API server can carry on (rollout.ts).
  const progressRevision = r ? await deps.rollouts.prepare(jobId, r.perHostMs) : 0;
  await skipDrained(deps, jobId, p.drained);
  const job = await publishJob(deps.store, {
    id: jobId,
    type: req.type,
    data: req.data,
    target: req.target,
    createdBy: req.createdBy,
    // The last wave of a rollout starts late: its hosts must still be allowed to.
    startWithinMs: deps.startWithinMs + (r ? r.waves * r.perHostMs : 0),
    ...(p.single ? {} : { expectedHosts: p.expected }),
    ...(req.commandPolicy ? { commandPolicy: req.commandPolicy } : {}),
    ...(r
      ? {
          rollout: {
            max_concurrency: r.limits.maxConcurrency,
            max_errors: r.limits.maxErrors,
          },
        }
      : {}),
  });
  if (r) {
    void deps.rollouts.start(
      {
        job,
        hosts: p.expected.filter((h) => !p.drained.includes(h)).sort(),
        limits: r.limits,
        perHostMs: r.perHostMs,
      },
      progressRevision,
    );
  }
  const expectedHosts = req.target.kind === 'any' ? [] : p.matching;
  return {
    jobId,
    expectedHosts: [...expectedHosts].sort(),
    revision: job.revision,
    created: job.created,
  };
}

/**
 * Records each drained host `skipped`, before the job goes out: its claim is
 * taken in the API's name, so the agent never runs it, and its result and
 * final event say why.
 */
async function skipDrained(deps: DispatchDeps, jobId: string, drained: string[]): Promise<void> {
  await Promise.all(
    drained.map(async (hostname) => {
      await claimJob(deps.store, jobId, { hostname }, API_EVENT_HOST);
      const why = `not sent: ${hostname} is drained (POST /agent/${hostname}/undrain brings it back)`;
      await recordNotRun(deps.store, jobId, hostname, 'skipped', why);
    }),
  );
}

export interface SubmittedJob {
  jobId: string;
  /**
   * The agents the job went to: every matching agent for a broadcast, the host
   * for a hostname, and none for `_any` (whichever Ready agent takes it first
   * runs it; GET /job/{id} names it).
   */
  expectedHosts: string[];
  /** The KV revision the definition was stored at, and when it was made. */
  revision: number;
  created: string;
}

/**
 * Listens for the job's answers, runs `publishIt` (which publishes the job
 * as planned), and waits until every expected agent has answered (the first
 * one, for `_any` and a host) or the deadline.
 */
export async function waitForAnswers(
  deps: DispatchDeps,
  req: DispatchRequest,
  p: Plan,
  jobId: string,
  publishIt: () => Promise<unknown>,
): Promise<DispatchResult> {
  const { single, expected } = p;
  const got = new Map<string, JobResponse>();
  const startedAt = deps.clock.now();
  const started = startedAt.getTime();

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  // Sets and a count: a broadcast to thousands of agents hears thousands of
  // answers, and a scan of the host list for each would cost O(hosts²).
  const addressed = new Set(p.matching);
  const waitingFor = new Set(expected);
  const complete = () => (single ? got.size > 0 : waitingFor.size === 0);
  const missingOf = () => [...waitingFor].sort();

  // Listen before publishing, so no answer can come before we hear it.
  const stopListening = deps.responses.register(jobId, (r) => {
    // Only an addressed host's (status.ts answersJob); `_any` is whoever took it.
    if (req.target.kind !== 'any' && !addressed.has(r.hostname)) return;
    got.set(r.hostname, r);
    waitingFor.delete(r.hostname);
    if (complete()) resolveDone();
  });
  try {
    await publishIt();
    // A rollout ends at worst when its last wave has had its full time.
    const waitMs = p.rollout
      ? p.rollout.waves * p.rollout.perHostMs + deps.marginMs
      : req.timeoutMs + deps.marginMs;
    // The answers come from the agents' spans' results (KV), not their
    // context: this span is the request's child, beside the publish.
    await traced(SPAN.collect, { [ATTR.jobId]: jobId, [ATTR.operation]: req.type }, async () => {
      await waitAtMost(done, waitMs);
      const span = trace.getActiveSpan();
      if (!span) return;
      span.setAttribute(ATTR.answered, [...got.keys()].sort());
      if (!single) span.setAttribute(ATTR.missing, missingOf());
    });
  } finally {
    stopListening();
  }

  const order = (a: JobResponse, b: JobResponse) => a.hostname.localeCompare(b.hostname);
  const result = {
    jobId,
    responses: [...got.values()].sort(order),
    missing: single ? [] : missingOf(),
    waitedMs: deps.clock.now().getTime() - started,
    ...(complete() ? {} : { natsInterrupted: deps.responses.cutSince(startedAt) }),
  };
  deps.onRoundTrip?.({ type: req.type, ms: result.waitedMs, complete: complete() });
  return result;
}

/** Resolves with the job once the jobs view has it (a request still publishing it), or undefined. */
export function jobAppears(
  jobs: JobsView,
  id: string,
  withinMs: number,
): Promise<JobEntry | undefined> {
  const now = jobs.get(id);
  if (now) return Promise.resolve(now);
  return new Promise((resolve) => {
    const done = () => {
      off();
      clearTimeout(timer);
      resolve(jobs.get(id));
    };
    const off = jobs.onChange(id, () => {
      if (jobs.get(id)) done();
    });
    const timer = setTimeout(done, withinMs);
  });
}

/** How long a replay waits for the first request to publish the job it reserved the key for. */
const REPLAY_APPEAR_MS = 5000;

/**
 * The stored job an Idempotency-Key was reserved for, as the jobs view has
 * it or else as the store has it: the view follows the bucket and may lag it
 * (a follow cut and taken up again on a loaded server), while a stored
 * definition is proof the job exists. Waits for the first request to store it
 * up to `withinMs`; undefined when it still has not.
 */
async function reservedJob(
  deps: DispatchDeps,
  jobId: string,
  withinMs: number,
): Promise<JobRecord | undefined> {
  // Unreadable (NATS away) counts as not stored yet: the client is told to try again.
  const stored = async () =>
    (await readJobWithHosts(deps.store, jobId).catch(() => null)) ?? undefined;
  const seen = deps.jobs.get(jobId)?.record ?? (await stored());
  if (seen) return seen;
  const appeared = await jobAppears(deps.jobs, jobId, withinMs);
  return appeared?.record ?? (await stored());
}

/**
 * The answer an earlier request with the same Idempotency-Key got, from its
 * job: waits (up to `waitMs`, the command's timeout plus the margin) for it to
 * end, as the first request did, unless `waitMs` is 0. Nothing is published.
 */
export async function replayJob(
  deps: DispatchDeps,
  jobId: string,
  waitMs: number,
): Promise<{ record: JobRecord; result: DispatchResult }> {
  const started = deps.clock.now().getTime();
  const record = await reservedJob(deps, jobId, REPLAY_APPEAR_MS);
  if (!record) {
    throw new ApiError(
      'idempotency_key_in_progress',
      `no job ${jobId} is stored for this Idempotency-Key yet: a request with it may still be making it (or the job was deleted); try again in a moment`,
      { job_id: jobId },
    );
  }
  if (waitMs > 0) {
    // A rollout's hosts start late: wait for its last wave as the first request did.
    const stretch = record.rollout ? Date.parse(record.deadline) - Date.parse(record.created) : 0;
    const until = started + waitMs + stretch;
    const left = () => Math.max(0, until - deps.clock.now().getTime());
    // A view that lags the store is waited for first: its end comes through it.
    await jobAppears(deps.jobs, jobId, left());
    await deps.jobs.waitFor(jobId, (d) => d.final, left());
  }
  const responses = (await readResponses(deps.store, jobId)).filter((r) =>
    answersJob(record, r.hostname),
  );
  const got = new Set(responses.map((r) => r.hostname));
  return {
    record,
    result: {
      jobId,
      responses,
      missing: (record.expected_hosts ?? []).filter((h) => !got.has(h)).sort(),
      waitedMs: deps.clock.now().getTime() - started,
    },
  };
}
