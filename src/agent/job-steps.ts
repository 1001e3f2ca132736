// The steps of handling one job notification on an agent (agent.ts
// handleOnce), each small enough to test on its own: find the job, decide
// whether to claim it and read its cancel marker, say why it is not run, and
// write the result that records its end. What NATS does is passed in.
import type { MsgHdrs } from '@nats-io/transport-node';
import { finalStateOf, type JobRecord, type JobResponse, RecordError } from '../job/records.js';
import { carriedJob } from '../job/store.js';
import type { HandlerOutcome } from './handlers/index.js';

/** The job a notification names, or why there is none to run. */
export type ResolvedJob =
  | { kind: 'job'; job: JobRecord }
  /** The record is there and wrong: the notification is dropped (terminated). */
  | { kind: 'invalid'; error: string }
  /** No record (expired or deleted): the notification is acked. */
  | { kind: 'missing' };

/**
 * The job a notification names: the record it carries, else the one `read`
 * finds in KV. Only a record that is there and wrong is `invalid`; a failed
 * read (NATS away) rejects, and the notification comes back.
 */
export async function resolveJob(
  headers: MsgHdrs | undefined,
  id: string,
  read: (id: string) => Promise<JobRecord | null>,
): Promise<ResolvedJob> {
  let carried: JobRecord | undefined;
  try {
    carried = carriedJob(headers, id);
  } catch (err) {
    return { kind: 'invalid', error: String(err) };
  }
  let job: JobRecord | null;
  try {
    job = carried ?? (await read(id));
  } catch (err) {
    if (!(err instanceof RecordError)) throw err;
    return { kind: 'invalid', error: String(err) };
  }
  return job ? { kind: 'job', job } : { kind: 'missing' };
}

/** What to ask of NATS before a run: take the claim, read the stored cancel marker. */
export interface ClaimPlan {
  claim: boolean;
  readCancel: boolean;
}

/**
 * A query changes nothing on the host and ends within milliseconds: one sent
 * to this host needs no claim (running it twice is harmless) and no look for a
 * cancel. `_any` (`shared`) still claims: one agent answers. A cancel is heard
 * live (core subscription); only a notice that may be older than this agent's
 * listening (read back, queued for `_any`, sent again) needs the stored marker.
 */
export function claimPlan(
  category: JobRecord['category'],
  shared: boolean,
  notice: { readonly readBack?: boolean; readonly info: { readonly redelivered: boolean } },
): ClaimPlan {
  const query = category === 'query';
  return {
    claim: shared || !query,
    readCancel: !query && (shared || notice.readBack === true || notice.info.redelivered),
  };
}

export interface ClaimOps {
  /** The KV create of the claim: true when this one made it. */
  claim(): Promise<boolean>;
  /** Whether the job's stored cancel marker is there. */
  isCancelled(): Promise<boolean>;
  /** Whether an existing claim is one this process sent and never ran under. */
  claimedByThisProcess(): Promise<boolean>;
}

/**
 * Claims the job (when the plan says so) and reads its cancel marker at the
 * same time. `claimsNotRun` holds the jobs this process sent a claim for and
 * has not begun to run: a claim whose answer was lost is found ours on the
 * next delivery. When NATS fails on the way, the job stays in it.
 */
export async function claimAndCheckCancel(
  id: string,
  plan: ClaimPlan,
  claimsNotRun: Set<string>,
  ops: ClaimOps,
): Promise<{ owned: boolean; cancelled: boolean }> {
  const claimedBefore = claimsNotRun.has(id);
  if (plan.claim) remember(claimsNotRun, id);
  const [claimed, cancelled] = await Promise.all([
    plan.claim ? ops.claim() : true,
    plan.readCancel ? ops.isCancelled() : false,
  ]);
  const owned = claimed || (claimedBefore && (await ops.claimedByThisProcess()));
  claimsNotRun.delete(id);
  return { owned, cancelled };
}

/** Keeps a bounded set: the oldest entries go first. */
export function remember(set: Set<string>, id: string, max = 10_000): void {
  set.add(id);
  if (set.size > max) set.delete(set.values().next().value as string);
}

/** The outcome of a job received after its start deadline, or null when in time. */
export function missedDeadline(job: Pick<JobRecord, 'deadline'>, at: Date): HandlerOutcome | null {
  if (at.getTime() <= Date.parse(job.deadline)) return null;
  return {
    status: 'failed',
    state: 'no_response',
    data: null,
    error: `not run: the job had to start by ${job.deadline}, and this agent received it at ${at.toISOString()}`,
  };
}

/** The outcome of a job cancelled before this host started it. */
export const CANCELLED_BEFORE_START: Readonly<HandlerOutcome> = {
  status: 'failed',
  state: 'cancelled',
  data: null,
  error: 'cancelled before this host started it: not run',
};

/** The outcome of a job its own signed command policy refuses. */
export function refusedOutcome(refusal: string): HandlerOutcome {
  return { status: 'failed', state: 'refused', data: null, error: refusal };
}

/** The result a host stores for its part of a job. */
export function responseOf(
  job: Pick<JobRecord, 'id'>,
  hostname: string,
  outcome: HandlerOutcome,
  startedAt: Date,
  finishedAt: Date,
): JobResponse {
  return {
    job_id: job.id,
    hostname,
    status: outcome.status,
    data: outcome.data,
    ...(outcome.error !== undefined ? { error: outcome.error } : {}),
    state: finalStateOf(outcome),
    started_at: startedAt.toISOString(),
    finished_at: finishedAt.toISOString(),
    ...(outcome.outputChunks !== undefined ? { output_chunks: outcome.outputChunks } : {}),
  };
}

/**
 * The status events of a run written alongside the work: each failure is only
 * reported (`onError`), and `settled` waits for all of them, so they are
 * ordered before the event that records the end.
 */
export function eventBatch(onError: (err: unknown) => void): {
  add(p: Promise<void>): void;
  settled(): Promise<unknown>;
} {
  const events: Array<Promise<void>> = [];
  return {
    add(p) {
      p.catch(onError);
      events.push(p);
    },
    settled: () => Promise.allSettled(events),
  };
}
