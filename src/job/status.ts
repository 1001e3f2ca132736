// The one place a job's status and each host's state are derived, from the
// job definition and its append-only status events.
import type { HostState, JobStatus } from '../contract/states.js';
import { API_EVENT_HOST } from '../names/names.js';
import type { FinalHostState, JobRecord, StatusEventRecord } from './records.js';

export {
  HOST_STATES,
  type HostState,
  JOB_STATUSES,
  type JobStatus,
} from '../contract/states.js';

export interface HostStateDetail {
  status: HostState;
  error?: string;
  /** Milliseconds from started to its end, when both are known. */
  durationMs?: number;
}

/**
 * A stored result as the API follows it (its headers, not its output): a
 * query's agent writes no final event, its result is the record of its end.
 */
export interface HostAnswer {
  state: FinalHostState;
  error?: string;
  /** When the result was stored. */
  at: string;
}

export interface DerivedStatus {
  status: JobStatus;
  hosts: Record<string, HostStateDetail>;
  updatedAt: string;
  /** Someone cancelled the job (a `cancelled` event from the API). */
  cancelled: boolean;
  /** No host will change state any more. */
  final: boolean;
}

/** Time for a notification to reach an agent that was there at the deadline. */
const DELIVERY_GRACE_MS = 5000;

const NOT_STARTED_CANCELLED = 'cancelled before this host started it';

/** The host a target names when it is one hostname, not `_any`, `_all` or a label. */
function singleHost(target: string): string | null {
  return target === '_any' || target === '_all' || target.includes(':') ? null : target;
}

/** The agents a stored job expects answers from: a broadcast's list, the host of a one-host job. */
export function expectedHostsOf(
  job: Pick<JobRecord, 'target_hostname' | 'expected_hosts'>,
): readonly string[] {
  if (job.expected_hosts) return job.expected_hosts;
  const one = singleHost(job.target_hostname);
  return one ? [one] : [];
}

/**
 * Whether a result stored in `hostname`'s name can be part of the job: the
 * job's one host, one of a broadcast's expected hosts (any, while the list is
 * not known), or any host for `_any`, whose one runner the shared claim
 * settles. Other results are ignored: where a fleet shares one agent user,
 * NATS lets an agent write under any host's key (docs/security.md).
 */
export function answersJob(
  job: Pick<JobRecord, 'target_hostname' | 'expected_hosts'>,
  hostname: string,
): boolean {
  return answererOf(job)(hostname);
}

/** answersJob for one job and many hosts: a broadcast's list is made a set once. */
function answererOf(
  job: Pick<JobRecord, 'target_hostname' | 'expected_hosts'>,
): (hostname: string) => boolean {
  if (job.target_hostname === '_any') return () => true;
  const one = singleHost(job.target_hostname);
  if (one !== null) return (h) => h === one;
  if (job.expected_hosts === undefined) return () => true;
  const expected = new Set(job.expected_hosts);
  return (h) => expected.has(h);
}

/** How an event that ends a host's part maps to a state, for records that carry none. */
function finalState(e: StatusEventRecord): FinalHostState {
  if (e.state) return e.state;
  return e.event === 'completed' ? 'succeeded' : 'failed';
}

export function isFinalHostState(s: HostState): s is FinalHostState {
  return s !== 'pending' && s !== 'running';
}

/**
 * Per host: `pending` until the agent starts it (received and waiting for a
 * slot is still pending), `running`, then the state the agent recorded with
 * its end. A host expected to answer and silent after the job's start deadline
 * is `no_response`; one that had not started when the job was cancelled is
 * `cancelled`. An `_any` job nobody took by then shows `_any` as no_response.
 *
 * A stored result followed by its headers (`answers`) ends a host as its
 * final event would: a query's agent writes none.
 *
 * The job: `submitted` until a host does anything, `processing` while a host
 * is pending or running, then `completed` when every host succeeded, `failed`
 * when none did, `partial_failure` for a mix.
 */
export function deriveStatus(
  job: JobRecord,
  events: readonly StatusEventRecord[],
  now: Date,
  answers: ReadonlyMap<string, HostAnswer> = new Map(),
): DerivedStatus {
  const hosts: Record<string, HostStateDetail> = {};
  const started: Record<string, number> = {};
  // Hosts shown only because they refused a copy sent where the job was not
  // addressed: anything else they record for the job (an `_any` job they
  // then take, say) replaces that.
  const onlyRefused = new Set<string>();
  const addressed = answererOf(job);
  let updatedAt = job.created;
  let cancelled = false;
  let touched = false;
  for (const e of events) {
    if (e.timestamp > updatedAt) updatedAt = e.timestamp;
    if (e.hostname === API_EVENT_HOST) {
      if (e.event === 'cancelled') cancelled = true;
      continue;
    }
    const current = hosts[e.hostname];
    // Another host's event is not part of the job: where a fleet shares one
    // agent user, any agent can write events in any name (docs/security.md).
    if (e.event !== 'refused' && !addressed(e.hostname)) continue;
    if (e.event === 'refused') {
      // Not a part of the job, unless it would otherwise not be shown at all;
      // never for `_any`, whose one host is whoever took it.
      if (!current && job.target_hostname !== '_any') {
        hosts[e.hostname] = {
          status: 'refused',
          ...(e.error !== undefined ? { error: e.error } : {}),
        };
        onlyRefused.add(e.hostname);
      }
      continue;
    }
    if (onlyRefused.delete(e.hostname)) delete hosts[e.hostname];
    else if (current && isFinalHostState(current.status)) continue;
    touched = true;
    switch (e.event) {
      case 'acknowledged':
        hosts[e.hostname] = { status: 'pending' };
        break;
      case 'started':
        hosts[e.hostname] = { status: 'running' };
        started[e.hostname] = Date.parse(e.timestamp);
        break;
      case 'completed':
      case 'failed': {
        const t0 = started[e.hostname];
        hosts[e.hostname] = {
          status: finalState(e),
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
    if (!addressed(h)) continue;
    const current = hosts[h];
    if (onlyRefused.delete(h)) delete hosts[h];
    else if (current && isFinalHostState(current.status)) continue;
    touched = true;
    if (a.at > updatedAt) updatedAt = a.at;
    const t0 = started[h];
    hosts[h] = {
      status: a.state,
      ...(a.error !== undefined ? { error: a.error } : {}),
      ...(t0 !== undefined ? { durationMs: Math.max(0, Date.parse(a.at) - t0) } : {}),
    };
  }

  const overdue = now.getTime() > overdueAtMs(job);
  for (const h of expectedHostsOf(job)) {
    // An addressed host that so far only refused a misaddressed copy still owes its own part.
    if (onlyRefused.delete(h)) hosts[h] = { status: 'pending' };
    else hosts[h] ??= { status: 'pending' };
  }
  if (job.target_hostname === '_any' && Object.keys(hosts).length === 0 && (overdue || cancelled)) {
    hosts._any = { status: 'pending' };
  }
  for (const [h, d] of Object.entries(hosts)) {
    if (d.status !== 'pending') continue;
    if (cancelled) hosts[h] = { status: 'cancelled', error: NOT_STARTED_CANCELLED };
    else if (overdue) {
      hosts[h] = {
        status: 'no_response',
        error: "this agent did not answer before the job's start deadline",
      };
    }
  }

  // The job's status is its addressed hosts': a host shown for refusing a
  // copy sent where the job was not addressed does not change it.
  const states = Object.entries(hosts)
    .filter(([h]) => !onlyRefused.has(h))
    .map(([, d]) => d.status);
  const final = states.length > 0 && states.every(isFinalHostState);
  let status: JobStatus;
  if (!touched && !final) status = 'submitted';
  else if (!final) status = 'processing';
  else {
    const ok = states.filter((s) => s === 'succeeded').length;
    status = ok === states.length ? 'completed' : ok === 0 ? 'failed' : 'partial_failure';
  }
  return { status, hosts, updatedAt, cancelled, final };
}

/**
 * When a job's silent hosts become `no_response`: its start deadline and the
 * grace for delivery. The one time deriveStatus reads, so a status derived
 * at or before it holds until it, and one derived after it for ever, while
 * the job's record, events and results stay as they are.
 */
export function overdueAtMs(job: Pick<JobRecord, 'deadline'>): number {
  return Date.parse(job.deadline) + DELIVERY_GRACE_MS;
}

/**
 * How long `derived`, made at `nowMs`, holds unless the job's entry changes:
 * for ever once final (the deadline only ends hosts still pending) or past
 * the deadline, else until the deadline (overdueAtMs).
 */
export function derivedHoldsUntilMs(
  job: Pick<JobRecord, 'deadline'>,
  derived: Pick<DerivedStatus, 'final'>,
  nowMs: number,
): number {
  const at = overdueAtMs(job);
  return derived.final || nowMs > at ? Number.POSITIVE_INFINITY : at;
}

/**
 * A job's timeline: its submission, from the definition (who, when, for
 * what target, with what rate control), then its status events. A job stored
 * with a `submitted` event of its own keeps that one.
 */
export function timelineOf(
  job: JobRecord,
  events: readonly StatusEventRecord[],
): StatusEventRecord[] {
  if (events.some((e) => e.event === 'submitted' && e.hostname === API_EVENT_HOST)) {
    return [...events];
  }
  const r = job.rollout;
  const submitted: StatusEventRecord = {
    timestamp: job.created,
    event: 'submitted',
    hostname: API_EVENT_HOST,
    message: `submitted by ${job.created_by} for ${job.target_hostname}${
      r ? ` (max_concurrency ${r.max_concurrency}, max_errors ${r.max_errors})` : ''
    }`,
  };
  return [submitted, ...events];
}
