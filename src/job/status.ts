// The one place a job's status and each host's state are derived, from the
// job definition and its append-only status events.
import type { StatusEvent } from './names.js';
import type { JobRecord, StatusEventRecord } from './records.js';

export const JOB_STATUSES = [
  'submitted',
  'processing',
  'completed',
  'failed',
  'partial_failure',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export type HostState =
  | 'acknowledged'
  | 'processing'
  | 'completed'
  | 'failed'
  | 'pending'
  | 'no_response';

export interface HostStateDetail {
  status: HostState;
  error?: string;
  /** Milliseconds from started to completed/failed, when both are known. */
  durationMs?: number;
}

/**
 * A stored result as the API follows it (its headers, not its output): a
 * query's agent writes no final event, its result is the record of its end.
 */
export interface HostAnswer {
  status: 'completed' | 'failed';
  error?: string;
  /** When the result was stored. */
  at: string;
}

export interface DerivedStatus {
  status: JobStatus;
  hosts: Record<string, HostStateDetail>;
  updatedAt: string;
}

const FINAL: ReadonlySet<StatusEvent> = new Set(['completed', 'failed']);

/** Time for a notification to reach an agent that was there at the deadline. */
const DELIVERY_GRACE_MS = 5000;

/**
 * `completed` when every host finished without error, `failed` when all
 * failed, `partial_failure` for a mix; `processing` while any host is at work
 * or an expected host may still start it (until the job's start deadline);
 * `submitted` until an agent takes it. An expected host still silent after the
 * deadline is `no_response` and counts as failed.
 */
export function deriveStatus(
  job: JobRecord,
  events: readonly StatusEventRecord[],
  now: Date,
  answers: ReadonlyMap<string, HostAnswer> = new Map(),
): DerivedStatus {
  const hosts: Record<string, HostStateDetail> = {};
  const started: Record<string, number> = {};
  let updatedAt = job.created;
  for (const e of events) {
    if (e.timestamp > updatedAt) updatedAt = e.timestamp;
    if (e.hostname === '_api') continue;
    const current = hosts[e.hostname];
    if (current && FINAL.has(current.status as StatusEvent)) continue;
    switch (e.event) {
      case 'acknowledged':
        hosts[e.hostname] = { status: 'acknowledged' };
        break;
      case 'started':
        hosts[e.hostname] = { status: 'processing' };
        started[e.hostname] = Date.parse(e.timestamp);
        break;
      case 'completed':
      case 'failed': {
        const t0 = started[e.hostname];
        hosts[e.hostname] = {
          status: e.event,
          ...(e.error !== undefined ? { error: e.error } : {}),
          ...(t0 !== undefined ? { durationMs: Math.max(0, Date.parse(e.timestamp) - t0) } : {}),
        };
        break;
      }
      default:
        break;
    }
  }
  // A result without a final event (a query's) ends its host the same way.
  for (const [h, a] of answers) {
    const current = hosts[h];
    if (current && FINAL.has(current.status as StatusEvent)) continue;
    if (a.at > updatedAt) updatedAt = a.at;
    const t0 = started[h];
    hosts[h] = {
      status: a.status,
      ...(a.error !== undefined ? { error: a.error } : {}),
      ...(t0 !== undefined ? { durationMs: Math.max(0, Date.parse(a.at) - t0) } : {}),
    };
  }
  const overdue = now.getTime() > Date.parse(job.deadline) + DELIVERY_GRACE_MS;
  for (const h of job.expected_hosts ?? []) {
    if (!hosts[h]) {
      hosts[h] = overdue
        ? { status: 'no_response', error: "this agent did not answer before the job's deadline" }
        : { status: 'pending' };
    }
  }

  const states = Object.values(hosts).map((h) => h.status);
  let status: JobStatus;
  if (states.length === 0) status = 'submitted';
  else if (states.some((s) => s === 'acknowledged' || s === 'processing' || s === 'pending')) {
    status = 'processing';
  } else {
    const failed = states.filter((s) => s === 'failed' || s === 'no_response').length;
    status = failed === 0 ? 'completed' : failed === states.length ? 'failed' : 'partial_failure';
  }
  return { status, hosts, updatedAt };
}
